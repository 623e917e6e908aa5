"""The adb transport message: a 24-byte little-endian header and its payload.

Header: command, arg0, arg1, data_length, data_check (byte sum), magic (command ^ 0xffffffff),
as in adb's protocol.txt. Commands are the four ASCII letters read as a little-endian uint32.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

_HEADER = struct.Struct("<6I")


def _cmd(name: bytes) -> int:
    return struct.unpack("<I", name)[0]


A_CNXN = _cmd(b"CNXN")
A_AUTH = _cmd(b"AUTH")
A_OPEN = _cmd(b"OPEN")
A_OKAY = _cmd(b"OKAY")
A_CLSE = _cmd(b"CLSE")
A_WRTE = _cmd(b"WRTE")
A_VERSION = 0x01000001  # A_VERSION_SKIP_CHECKSUM: the peer need not verify data_check
MAX_PAYLOAD = 256 * 1024
NAMES = {A_CNXN: "CNXN", A_AUTH: "AUTH", A_OPEN: "OPEN", A_OKAY: "OKAY", A_CLSE: "CLSE",
         A_WRTE: "WRTE"}


class WireError(ConnectionError):
    """The peer sent a malformed header or closed the connection mid-message."""


@dataclass
class Message:
    command: int
    arg0: int
    arg1: int
    data: bytes = b""

    def encode(self) -> bytes:
        return _HEADER.pack(self.command, self.arg0, self.arg1, len(self.data),
                            sum(self.data) & 0xFFFFFFFF, self.command ^ 0xFFFFFFFF) + self.data

    def __repr__(self) -> str:
        return f"{NAMES.get(self.command, hex(self.command))}({self.arg0}, {self.arg1}, {self.data[:40]!r})"


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise WireError("connection closed")
        buf += chunk
    return bytes(buf)


def read_message(sock: socket.socket, max_payload: int = MAX_PAYLOAD) -> Message:
    """Read one message; WireError on a bad magic, an oversized payload or a closed socket."""
    cmd, a0, a1, length, _check, magic = _HEADER.unpack(_recv_exact(sock, _HEADER.size))
    if magic != cmd ^ 0xFFFFFFFF:
        raise WireError(f"bad magic {magic:#x} for command {cmd:#x}")
    if length > max_payload:
        raise WireError(f"payload of {length} bytes exceeds {max_payload}")
    return Message(cmd, a0, a1, _recv_exact(sock, length) if length else b"")
