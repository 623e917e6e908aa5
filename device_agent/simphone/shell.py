"""The phone's ``sh``: a small interpreter for the commands an agent sends through ``shell:``.

Supports ``;``, ``&&``, ``||``, ``$?``, ``*`` globs, ``> file`` / ``>> file`` into the sandbox
and ``2>&1`` (a v1 shell merges stderr anyway). Built-ins: getprop, cat, echo, nproc, uname,
ls, rm, chmod, mkdir, dumpsys battery, taskset, sleep, true, false. A path under
``/data/local/tmp`` with an exec bit runs under ``qemu-aarch64``. Pipes and other shell syntax
are refused with status 2. Nothing here runs a host shell.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import posixpath
import shlex
import shutil
import signal
import stat
import subprocess
import threading
import time
from collections.abc import Callable

from device_agent.simphone.vfs import PhoneFS, PhonePathError, normalize

Out = Callable[[bytes], None]
OPERATORS = {";", "&&", "||"}


class ShellContext:
    """What a command may touch: the phone's files and state, the stream's output, a
    ``closed`` event set when the host closes the stream or the phone is unplugged, and
    ``on_run`` called when a binary starts."""

    def __init__(self, fs: PhoneFS, out: Out, closed: threading.Event,
                 on_run: Callable[[], None] = lambda: None) -> None:
        self.fs, self.out, self.closed, self.on_run = fs, out, closed, on_run
        self.state = fs.state


def _split(cmdline: str) -> list[list[str] | str]:
    """Tokens grouped into commands and operators; ValueError on unsupported syntax."""
    lex = shlex.shlex(cmdline, posix=True, punctuation_chars=";&|<>")
    lex.whitespace_split = True
    parts: list[list[str] | str] = []
    cur: list[str] = []
    for tok in lex:
        if tok in OPERATORS:
            parts.append(cur)
            parts.append(tok)
            cur = []
        elif tok and set(tok) <= set(";&|<>") and tok not in (">", ">>", ">&"):
            raise ValueError(f"unsupported shell syntax {tok!r}")
        else:
            cur.append(tok)
    parts.append(cur)
    return parts


def run_line(cmdline: str, ctx: ShellContext) -> int:
    """Run one command line; returns its exit status (0..255)."""
    try:
        parts = _split(cmdline)
    except ValueError as e:
        ctx.out(f"/system/bin/sh: {e}\n".encode())
        return 2
    status, op = 0, ";"
    for part in parts:
        if isinstance(part, str):
            op = part
            continue
        if (op == "&&" and status != 0) or (op == "||" and status == 0) or not part:
            continue
        if ctx.closed.is_set():
            return 255
        argv = [t.replace("$?", str(status)) for t in part]
        status = _run_redirected(argv, ctx)
    return status


def _run_redirected(argv: list[str], ctx: ShellContext) -> int:
    out, target, mode = ctx.out, None, "wb"
    words: list[str] = []
    i = 0
    while i < len(argv):
        t = argv[i]
        if t in (">", ">>") and i + 1 < len(argv):
            target, mode = argv[i + 1], "ab" if t == ">>" else "wb"
            if words and words[-1] in ("1", "2"):
                words.pop()
            i += 2
        elif t == ">&" and i + 1 < len(argv):  # 2>&1: the v1 stream already merges stderr
            if words and words[-1] == "2":
                words.pop()
            i += 2
        else:
            words.append(t)
            i += 1
    words = _glob(words, ctx.fs)
    if target is None:
        return _run(words, ctx, out)
    try:
        hp = ctx.fs.host(target)
        with open(hp, mode) as f:
            return _run(words, ctx, f.write)
    except (PhonePathError, OSError) as e:
        ctx.out(f"/system/bin/sh: {target}: {getattr(e, 'strerror', None) or e}\n".encode())
        return 1


def _glob(words: list[str], fs: PhoneFS) -> list[str]:
    res: list[str] = []
    for w in words:
        if "*" not in w:
            res.append(w)
            continue
        if fs.in_sandbox(w):
            rel = normalize(w)[len("/data/local/tmp"):].lstrip("/")
            hits = sorted("/data/local/tmp/" + str(p.relative_to(fs.sandbox))
                          for p in fs.sandbox.glob(rel))
        else:
            pat = normalize(w)
            cands = set(fs.virtual_files()) | fs.virtual_dirs()
            hits = sorted(c for c in cands
                          if c.count("/") == pat.count("/") and fnmatch.fnmatchcase(c, pat))
        res.extend(hits or [w])
    return res


def _run(argv: list[str], ctx: ShellContext, out: Out) -> int:
    if not argv:
        return 0
    name, args = argv[0], argv[1:]
    builtin = BUILTINS.get(name)
    if builtin is not None:
        return builtin(args, ctx, out)
    if "/" in name and ctx.fs.in_sandbox(name):
        return _exec(name, args, ctx, out)
    out(f"/system/bin/sh: {name}: inaccessible or not found\n".encode())
    return 127


def _exec(path: str, args: list[str], ctx: ShellContext, out: Out) -> int:
    """Run a pushed arm64 binary under qemu-aarch64 in the sandbox; its output streams to
    ``out``; killed when the stream closes; lasts ``slow_factor`` times longer."""
    hp = ctx.fs.host(path)
    if not hp.is_file():
        out(f"/system/bin/sh: {path}: inaccessible or not found\n".encode())
        return 127
    if not os.access(hp, os.X_OK):
        out(f"/system/bin/sh: {path}: can't execute: Permission denied\n".encode())
        return 126
    qemu = shutil.which("qemu-aarch64") or shutil.which("qemu-aarch64-static")
    if qemu is None:
        out(b"simphone: qemu-aarch64 is not installed (scripts/setup-apt.sh)\n")
        return 127
    ctx.state.record_run()
    ctx.on_run()
    t0 = time.monotonic()
    proc = subprocess.Popen([qemu, str(hp), *args], cwd=ctx.fs.sandbox, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={"PATH": "/usr/bin:/bin", "TMPDIR": str(ctx.fs.sandbox)},
                            start_new_session=True)
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.05):
            if ctx.closed.is_set():
                _kill(proc)
                return

    threading.Thread(target=watch, daemon=True).start()
    try:
        assert proc.stdout is not None
        while chunk := proc.stdout.read1(65536):
            out(chunk)
        rc = proc.wait()
    except OSError:
        _kill(proc)
        rc = 255
    finally:
        done.set()
        if proc.stdout:
            proc.stdout.close()
    extra = (ctx.state.faults.slow_factor - 1) * max(time.monotonic() - t0, 1.0)
    if extra > 0 and ctx.closed.wait(extra):
        return 255
    return rc if rc >= 0 else 128 - rc


def _kill(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


# ---- built-ins: (args, ctx, out) -> status ---------------------------------------------------

def _getprop(args: list[str], ctx: ShellContext, out: Out) -> int:
    props = ctx.state.profile.props()
    if args:
        out((props.get(args[0], args[1] if len(args) > 1 else "") + "\n").encode())
    else:
        out("".join(f"[{k}]: [{v}]\n" for k, v in sorted(props.items())).encode())
    return 0


def _cat(args: list[str], ctx: ShellContext, out: Out) -> int:
    status = 0
    for a in args:
        p = normalize(a)
        vf = ctx.fs.virtual_files()
        if p in vf:
            out(vf[p].encode())
            continue
        try:
            hp = ctx.fs.host(p)
            out(hp.read_bytes())
        except PhonePathError:
            out(f"cat: {a}: No such file or directory\n".encode())
            status = 1
        except OSError as e:
            out(f"cat: {a}: {e.strerror}\n".encode())
            status = 1
    return status


def _echo(args: list[str], ctx: ShellContext, out: Out) -> int:
    out((" ".join(args) + "\n").encode())
    return 0


def _nproc(args: list[str], ctx: ShellContext, out: Out) -> int:
    out(f"{ctx.state.profile.core_count}\n".encode())
    return 0


def _uname(args: list[str], ctx: ShellContext, out: Out) -> int:
    out(b"aarch64\n" if "-m" in args else b"Linux\n")
    return 0


def _ls(args: list[str], ctx: ShellContext, out: Out) -> int:
    long_ = any(a.startswith("-") and "l" in a for a in args)
    paths = [a for a in args if not a.startswith("-")] or ["/"]
    status = 0
    for a in paths:
        p = normalize(a)
        if ctx.fs.in_sandbox(p):
            try:
                hp = ctx.fs.host(p)
                entries = sorted(x.name for x in hp.iterdir()) if hp.is_dir() else (
                    [a] if hp.exists() else None)
            except PhonePathError:
                entries = None
            if entries is None:
                out(f"ls: {a}: No such file or directory\n".encode())
                status = 1
                continue
            for e in entries:
                if long_:
                    st = (hp / e if hp.is_dir() else hp).stat()
                    out(f"{stat.filemode(st.st_mode)} 1 shell shell {st.st_size} {e}\n".encode())
                else:
                    out(f"{e}\n".encode())
            continue
        names = sorted({posixpath.relpath(c, p).split("/")[0]
                        for c in set(ctx.fs.virtual_files()) | ctx.fs.virtual_dirs()
                        if c.startswith(p.rstrip("/") + "/")})
        if p in ctx.fs.virtual_files():
            names = [a]
        elif not names and p not in ctx.fs.virtual_dirs():
            out(f"ls: {a}: No such file or directory\n".encode())
            status = 1
        out("".join(n + "\n" for n in names).encode())
    return status


def _sandbox_paths(cmd: str, args: list[str], ctx: ShellContext, out: Out):
    for a in args:
        try:
            yield a, ctx.fs.host(a)
        except PhonePathError as e:
            out(f"{cmd}: {e}\n".encode())
            yield a, None


def _rm(args: list[str], ctx: ShellContext, out: Out) -> int:
    flags = "".join(a[1:] for a in args if a.startswith("-"))
    status = 0
    for a, hp in _sandbox_paths("rm", [a for a in args if not a.startswith("-")], ctx, out):
        if hp is None or hp == ctx.fs.sandbox:
            status = 1
            continue
        if hp.is_dir() and not hp.is_symlink():
            if "r" in flags or "R" in flags:
                shutil.rmtree(hp)
            else:
                out(f"rm: {a}: is a directory\n".encode())
                status = 1
        elif hp.exists() or hp.is_symlink():
            hp.unlink()
        elif "f" not in flags:
            out(f"rm: {a}: No such file or directory\n".encode())
            status = 1
    return status


def _chmod(args: list[str], ctx: ShellContext, out: Out) -> int:
    if len(args) < 2:
        out(b"chmod: needs MODE FILE...\n")
        return 1
    mode, status = args[0], 0
    for a, hp in _sandbox_paths("chmod", args[1:], ctx, out):
        if hp is not None and not hp.exists():
            out(f"chmod: {a}: No such file or directory\n".encode())
        if hp is None or not hp.exists():
            status = 1
            continue
        cur = hp.stat().st_mode & 0o7777
        if mode in ("+x", "a+x", "u+x"):
            new = cur | (0o111 if mode != "u+x" else 0o100)
        else:
            try:
                new = int(mode, 8)
            except ValueError:
                out(f"chmod: bad mode {mode!r}\n".encode())
                return 1
        hp.chmod(new & 0o7777)
    return status


def _mkdir(args: list[str], ctx: ShellContext, out: Out) -> int:
    parents, status = "-p" in args, 0
    for a, hp in _sandbox_paths("mkdir", [a for a in args if not a.startswith("-")], ctx, out):
        if hp is None:
            status = 1
            continue
        try:
            hp.mkdir(parents=parents, exist_ok=parents)
        except OSError as e:
            out(f"mkdir: {a}: {e.strerror}\n".encode())
            status = 1
    return status


def _dumpsys(args: list[str], ctx: ShellContext, out: Out) -> int:
    if args[:1] != ["battery"]:
        out(f"Can't find service: {args[0] if args else ''}\n".encode())
        return 0
    p = ctx.state.profile
    out((
        "Current Battery Service state:\n"
        "  AC powered: false\n  USB powered: true\n  Wireless powered: false\n"
        "  Max charging current: 500000\n  Max charging voltage: 5000000\n"
        f"  status: 2\n  health: 2\n  present: true\n  level: {p.battery_level}\n"
        f"  scale: 100\n  voltage: 4123\n"
        f"  temperature: {round(ctx.state.battery_temp_c() * 10)}\n"
        "  technology: Li-ion\n").encode())
    return 0


def _taskset(args: list[str], ctx: ShellContext, out: Out) -> int:
    if len(args) < 2:
        out(b"usage: taskset MASK COMMAND...\n")
        return 1
    try:
        mask = int(args[0], 16)
    except ValueError:
        out(f"taskset: bad mask {args[0]!r}\n".encode())
        return 1
    if mask == 0 or mask >> ctx.state.profile.core_count:
        out(b"taskset: sched_setaffinity: Invalid argument\n")
        return 1
    return _run(args[1:], ctx, out)


def _sleep(args: list[str], ctx: ShellContext, out: Out) -> int:
    try:
        secs = float(args[0]) if args else 0.0
    except ValueError:
        out(f"sleep: invalid number {args[0]!r}\n".encode())
        return 1
    return 255 if ctx.closed.wait(secs) else 0


BUILTINS: dict[str, Callable[[list[str], ShellContext, Out], int]] = {
    "getprop": _getprop, "cat": _cat, "echo": _echo, "nproc": _nproc, "uname": _uname,
    "ls": _ls, "rm": _rm, "chmod": _chmod, "mkdir": _mkdir, "dumpsys": _dumpsys,
    "taskset": _taskset, "sleep": _sleep,
    "true": lambda a, c, o: 0, "false": lambda a, c, o: 1,
}
