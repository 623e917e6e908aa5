"""The ``sync:`` service (adb's SYNC.TXT): STAT, LIST, SEND (push) and RECV (pull) on the
sandbox. Every request is a 4-byte id, a little-endian uint32 length and that many bytes."""

from __future__ import annotations

import os
import stat
import struct

from device_agent.simphone.stream import Stream
from device_agent.simphone.vfs import PhoneFS, PhonePathError, normalize

SYNC_DATA_MAX = 64 * 1024
MAX_PATH = 1024


def _fail(stream: Stream, msg: str) -> None:
    m = msg.encode()
    stream.write(b"FAIL" + struct.pack("<I", len(m)) + m)


def _stat_tuple(fs: PhoneFS, path: str) -> tuple[int, int, int]:
    """(mode, size, mtime) of a phone path; zeros when it does not exist."""
    p = normalize(path)
    if fs.in_sandbox(p):
        try:
            st = fs.host(p).stat()
        except (PhonePathError, OSError):
            return 0, 0, 0
        return st.st_mode & 0xFFFFFFFF, st.st_size & 0xFFFFFFFF, int(st.st_mtime)
    files = fs.virtual_files()
    if p in files:
        return stat.S_IFREG | 0o444, len(files[p]), 0
    if p in fs.virtual_dirs():
        return stat.S_IFDIR | 0o755, 4096, 0
    return 0, 0, 0


def serve_sync(stream: Stream, fs: PhoneFS) -> None:
    """Answer sync requests until QUIT or the stream closes."""
    while True:
        ident = stream.read_exact(4)
        (length,) = struct.unpack("<I", stream.read_exact(4))
        if ident == b"QUIT":
            return
        if length > MAX_PATH:
            _fail(stream, f"path of {length} bytes is too long")
            return
        arg = stream.read_exact(length).decode("utf-8", "replace")
        if ident == b"STAT":
            stream.write(b"STAT" + struct.pack("<III", *_stat_tuple(fs, arg)))
        elif ident == b"LIST":
            _list(stream, fs, arg)
        elif ident == b"SEND":
            _send(stream, fs, arg)
        elif ident == b"RECV":
            _recv(stream, fs, arg)
        else:
            _fail(stream, f"unknown sync command {ident!r}")
            return


def _list(stream: Stream, fs: PhoneFS, path: str) -> None:
    if fs.in_sandbox(path):
        try:
            hp = fs.host(path)
            for e in sorted(hp.iterdir()) if hp.is_dir() else []:
                st = e.lstat()
                name = e.name.encode()
                stream.write(b"DENT" + struct.pack("<IIII", st.st_mode, st.st_size & 0xFFFFFFFF,
                                                   int(st.st_mtime), len(name)) + name)
        except (PhonePathError, OSError):
            pass
    stream.write(b"DONE" + bytes(16))


def _send(stream: Stream, fs: PhoneFS, arg: str) -> None:
    """Receive DATA chunks up to DONE into the sandbox file; OKAY or FAIL."""
    path, _, mode_s = arg.rpartition(",")
    if not path:
        path, mode_s = arg, str(stat.S_IFREG | 0o644)
    try:
        mode = int(mode_s) & 0o777
    except ValueError:
        mode = 0o644
    try:
        hp = fs.host(path)
        hp.parent.mkdir(parents=True, exist_ok=True)
        f = open(hp, "wb")  # noqa: SIM115 - closed below, after the DATA loop
        error = None
    except (PhonePathError, OSError) as e:
        f, error = None, f"{normalize(path)}: {getattr(e, 'strerror', None) or e}"
    try:
        while True:
            ident = stream.read_exact(4)
            (n,) = struct.unpack("<I", stream.read_exact(4))
            if ident == b"DONE":
                break
            if ident != b"DATA" or n > SYNC_DATA_MAX:
                error = error or f"bad sync packet {ident!r} of {n} bytes"
                _fail(stream, error)
                return
            data = stream.read_exact(n)
            if f is not None:
                f.write(data)
    finally:
        if f is not None:
            f.close()
    if error:
        _fail(stream, error)
        return
    os.chmod(hp, mode)
    os.utime(hp, (n, n))
    stream.write(b"OKAY" + bytes(4))


def _recv(stream: Stream, fs: PhoneFS, path: str) -> None:
    p = normalize(path)
    files = fs.virtual_files()
    if p in files:
        data = files[p].encode()
        stream.write(b"DATA" + struct.pack("<I", len(data)) + data)
        stream.write(b"DONE" + bytes(4))
        return
    try:
        f = open(fs.host(p), "rb")  # noqa: SIM115 - the with below closes it
    except (PhonePathError, OSError) as e:
        _fail(stream, f"{p}: {getattr(e, 'strerror', None) or e}")
        return
    with f:
        while chunk := f.read(SYNC_DATA_MAX):
            stream.write(b"DATA" + struct.pack("<I", len(chunk)) + chunk)
    stream.write(b"DONE" + bytes(4))
