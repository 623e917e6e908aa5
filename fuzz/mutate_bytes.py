"""Byte-level mutations: bit flips, byte inserts and deletes, overwrites, truncation."""

from __future__ import annotations

from fuzz.choose import Chooser

INTERESTING = (b"\x00", b"\xff", b"\x7f", b"\x80", b"\xff\xff\xff\xff\x0f", b"\x01")


def flip_bits(ch: Chooser, data: bytes) -> tuple[bytes, str]:
    if not data:
        return data, "flip(empty)"
    buf = bytearray(data)
    n = ch.int(1, 8)
    for _ in range(n):
        i = ch.int(0, len(buf) - 1)
        buf[i] ^= 1 << ch.int(0, 7)
    return bytes(buf), f"flip x{n}"


def insert_bytes(ch: Chooser, data: bytes) -> tuple[bytes, str]:
    i = ch.int(0, len(data))
    chunk = ch.choice(INTERESTING) * ch.int(1, 4) if ch.bool() else bytes(
        ch.int(0, 255) for _ in range(ch.int(1, 16)))
    return data[:i] + chunk + data[i:], f"insert {len(chunk)}@{i}"


def delete_bytes(ch: Chooser, data: bytes) -> tuple[bytes, str]:
    if not data:
        return data, "delete(empty)"
    i = ch.int(0, len(data) - 1)
    n = ch.int(1, min(64, len(data) - i))
    return data[:i] + data[i + n:], f"delete {n}@{i}"


def overwrite_bytes(ch: Chooser, data: bytes) -> tuple[bytes, str]:
    """Overwrite at a random place with a varint-looking or extreme value (protobuf lengths,
    tags and dims are varints, so this hits sizes and field numbers)."""
    if not data:
        return data, "overwrite(empty)"
    i = ch.int(0, len(data) - 1)
    chunk = ch.choice(INTERESTING)
    return data[:i] + chunk + data[i + len(chunk):], f"overwrite {len(chunk)}@{i}"


def truncate(ch: Chooser, data: bytes) -> tuple[bytes, str]:
    n = ch.int(0, max(0, len(data) - 1))
    return data[:n], f"truncate {n}"


BYTE_MUTATORS = (flip_bits, insert_bytes, delete_bytes, overwrite_bytes, truncate)


def mutate_bytes(ch: Chooser, data: bytes) -> tuple[bytes, str]:
    """One to three byte-level mutations; returns the bytes and what was done."""
    notes = []
    for _ in range(ch.int(1, 3)):
        data, note = ch.choice(BYTE_MUTATORS)(ch, data)
        notes.append(note)
    return data, ", ".join(notes)
