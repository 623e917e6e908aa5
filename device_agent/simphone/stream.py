"""One adb stream on the device side: a blocking byte reader fed by the host's WRTE messages,
and a writer that sends WRTE in payload-sized pieces, one unacknowledged message at a time."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable

from device_agent.simphone.wire import A_CLSE, A_WRTE, Message


class StreamClosed(ConnectionError):
    """The host closed the stream, or the phone was unplugged."""


class Stream:
    """Device end of a stream: ``local_id`` is ours, ``remote_id`` the host's."""

    def __init__(self, local_id: int, remote_id: int, send: Callable[[Message], None],
                 max_payload: int) -> None:
        self.local_id, self.remote_id = local_id, remote_id
        self._send, self._max = send, max_payload
        self._inbox: queue.Queue[bytes | None] = queue.Queue()
        self._buf = bytearray()
        self._can_send = threading.Event()
        self._can_send.set()
        self.closed = threading.Event()

    # -- called by the connection's reader thread --
    def feed(self, data: bytes) -> None:
        self._inbox.put(data)

    def acked(self) -> None:
        self._can_send.set()

    def host_closed(self) -> None:
        self.closed.set()
        self._can_send.set()
        self._inbox.put(None)

    # -- called by the service handler --
    def read_exact(self, n: int) -> bytes:
        """``n`` bytes from the host; StreamClosed if the stream ends first."""
        while len(self._buf) < n:
            chunk = self._inbox.get()
            if chunk is None:
                self._inbox.put(None)
                raise StreamClosed("stream closed by host")
            self._buf += chunk
        out, self._buf = bytes(self._buf[:n]), self._buf[n:]
        return out

    def write(self, data: bytes) -> None:
        """Send ``data`` to the host; StreamClosed when the stream is gone."""
        for i in range(0, len(data), self._max):
            while not self._can_send.wait(0.5):
                pass
            if self.closed.is_set():
                raise StreamClosed("stream closed by host")
            self._can_send.clear()
            self._send(Message(A_WRTE, self.local_id, self.remote_id, data[i:i + self._max]))

    def close(self) -> None:
        """Close from the device side (no-op when the host closed it already)."""
        if not self.closed.is_set():
            self.closed.set()
            with contextlib.suppress(OSError):
                self._send(Message(A_CLSE, self.local_id, self.remote_id))
