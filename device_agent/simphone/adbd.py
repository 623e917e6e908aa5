"""A simulated phone's adbd on loopback: the device side of the adb transport protocol
(adb's protocol.txt): CNXN handshake without AUTH (what the adb server accepts from a TCP
device), then OPEN / OKAY / WRTE / CLSE streams for the ``shell:`` (v1) and ``sync:`` services.

    phone = SimPhone(load_profile(path), sandbox=tmp_dir, faults=Faults(heat_c_per_run=5))
    port = phone.start()          # then: adb connect 127.0.0.1:<port>
    ...
    phone.stop()
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import socket
import threading
from pathlib import Path

from device_agent.simphone.profile import PhoneProfile
from device_agent.simphone.shell import ShellContext, run_line
from device_agent.simphone.state import Faults, PhoneState
from device_agent.simphone.stream import Stream, StreamClosed
from device_agent.simphone.sync import serve_sync
from device_agent.simphone.vfs import PhoneFS
from device_agent.simphone.wire import (
    A_CLSE,
    A_CNXN,
    A_OKAY,
    A_OPEN,
    A_VERSION,
    A_WRTE,
    MAX_PAYLOAD,
    Message,
    WireError,
    read_message,
)

log = logging.getLogger("device_agent.simphone")


class SimPhone:
    """One simulated phone listening on ``host:port`` (port 0 picks a free one).

    ``sandbox`` is the host directory that stands for the phone's ``/data/local/tmp``.
    ``unplug()`` makes the phone vanish (connections dropped, port closed); ``stop()`` too;
    ``replug()`` listens again on the same port (the adb server must ``connect`` again).
    """

    def __init__(self, profile: PhoneProfile, sandbox: str | Path, faults: Faults | None = None,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = PhoneState(profile, faults or Faults())
        self.fs = PhoneFS(self.state, Path(sandbox))
        self._addr = (host, port)
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.unplugged = threading.Event()
        self.port = 0

    @property
    def serial(self) -> str:
        """The serial the adb server gives this phone after ``adb connect``."""
        return f"{self._addr[0]}:{self.port}"

    def start(self) -> int:
        """Listen and serve in background threads; returns the port."""
        ls = socket.create_server(self._addr)
        self._listener, self.port = ls, ls.getsockname()[1]
        self._addr = (self._addr[0], self.port)
        threading.Thread(target=self._accept_loop, daemon=True, name="simphone-accept").start()
        log.info("simphone %s listening on %s", self.state.profile.model, self.serial)
        return self.port

    def unplug(self) -> None:
        """The cable is pulled: every connection drops and nothing is listening any more."""
        self.unplugged.set()
        if self._listener is not None:
            with contextlib.suppress(OSError):  # wakes the accept() blocked on it (Linux)
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
            c.close()

    stop = unplug

    def replug(self) -> int:
        """Come back on the same port after ``unplug()``; returns the port."""
        self.unplugged.clear()
        return self.start()

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self.unplugged.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._conns.add(conn)
            threading.Thread(target=_Connection(self, conn).serve, daemon=True,
                             name="simphone-conn").start()

    def _on_run(self) -> None:
        after = self.state.faults.unplug_after_s
        if after is not None:
            t = threading.Timer(after, self.unplug)
            t.daemon = True
            t.start()

    def _banner(self) -> bytes:
        p = self.state.profile
        return (f"device::ro.product.name={p.device};ro.product.model={p.model};"
                f"ro.product.device={p.device};features=cmd").encode()


class _Connection:
    """One transport connection from the adb server: reads messages, dispatches streams."""

    def __init__(self, phone: SimPhone, sock: socket.socket) -> None:
        self.phone, self.sock = phone, sock
        self.max_payload = MAX_PAYLOAD
        self.streams: dict[int, Stream] = {}
        self._ids = itertools.count(1)
        self._send_lock = threading.Lock()

    def send(self, msg: Message) -> None:
        with self._send_lock:
            self.sock.sendall(msg.encode())

    def serve(self) -> None:
        try:
            while True:
                self._dispatch(read_message(self.sock))
        except (WireError, OSError) as e:
            log.info("simphone %s: connection ended (%s)", self.phone.serial, e)
        finally:
            for s in list(self.streams.values()):
                s.host_closed()
            with self.phone._lock:
                self.phone._conns.discard(self.sock)
            self.sock.close()

    def _dispatch(self, m: Message) -> None:
        if m.command == A_CNXN:
            self.max_payload = max(4096, min(m.arg1, MAX_PAYLOAD))
            self.send(Message(A_CNXN, A_VERSION, self.max_payload, self.phone._banner()))
        elif m.command == A_OPEN:
            self._open(m.arg0, m.data.rstrip(b"\0").decode("utf-8", "replace"))
        elif m.command == A_WRTE:
            s = self.streams.get(m.arg1)
            if s is not None:
                s.feed(m.data)
                self.send(Message(A_OKAY, s.local_id, s.remote_id))
        elif m.command == A_OKAY:
            s = self.streams.get(m.arg1)
            if s is not None:
                s.acked()
        elif m.command == A_CLSE:
            s = self.streams.pop(m.arg1, None)
            if s is not None:
                s.host_closed()

    def _open(self, remote_id: int, service: str) -> None:
        if service.startswith("shell:"):
            handler = self._shell(service[len("shell:"):])
        elif service == "sync:":
            handler = serve_sync
        else:
            log.info("simphone %s: refused service %r", self.phone.serial, service)
            self.send(Message(A_CLSE, 0, remote_id))
            return
        local_id = next(self._ids)
        s = Stream(local_id, remote_id, self.send, self.max_payload)
        self.streams[local_id] = s
        self.send(Message(A_OKAY, local_id, remote_id))
        threading.Thread(target=self._run, args=(s, handler), daemon=True,
                         name=f"simphone-{service[:20]}").start()

    def _shell(self, cmdline: str):
        def handler(stream: Stream, fs: PhoneFS) -> None:
            ctx = ShellContext(fs, stream.write, stream.closed, self.phone._on_run)
            run_line(cmdline, ctx)
        return handler

    def _run(self, s: Stream, handler) -> None:
        try:
            handler(s, self.phone.fs)
        except (StreamClosed, OSError):
            pass
        except Exception:  # a bug of ours must not kill the phone
            log.exception("simphone %s: service failed", self.phone.serial)
        finally:
            s.close()
            self.streams.pop(s.local_id, None)
