"""``dnnfusion submit``: compile a model on a dnnfusion service and download the artifact.

Uploads MODEL (an .onnx, an .onnx with external-data files beside it, or a folder: packed
for you), starts a compilation, shows its stages while it runs (one live line on a terminal,
plain lines otherwise, on stderr), downloads the artifact (.tar.gz) to OUT and prints the
summary. An identical earlier compilation on the service (same model bytes, shapes, target,
options, device class, compiler and profiling data) answers at once ("cache hit"; --no-cache
compiles anyway). The server and key come from --server/--api-key, else DNNFUSION_URL/DNNFUSION_API_KEY,
else ~/.config/dnnfusion/client.toml (url = "...", api_key = "...").
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path
from typing import TextIO

from dnnfusion.commands.common import add_input_shape_option, input_shapes_arg
from dnnfusion.commands.extras import missing_extra_message

TARGETS = ("host", "linux-arm64")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "submit",
        help="compile a model on a dnnfusion service (upload, wait, download the artifact)",
        description=__doc__.split("\n\n", 1)[1],
    )
    p.add_argument("model", help=".onnx file, or a folder with one .onnx and its data files")
    add_input_shape_option(p)
    p.add_argument("--target", choices=TARGETS, default="host",
                   help="host (default) or linux-arm64 (a static aarch64 runner)")
    p.add_argument("--device-class", metavar="KEY",
                   help="profiling-database device class whose measurements decide the "
                   "\"profile\" fusions (default: the server's choice for the target)")
    p.add_argument("--no-cache", action="store_true",
                   help="compile even when the service holds an identical earlier compilation "
                   "(default: such a request is answered at once from its compile cache)")
    p.add_argument("--server", metavar="URL", help="service root, e.g. http://127.0.0.1:8000 "
                   "(default: $DNNFUSION_URL, the config file, else http://127.0.0.1:8000)")
    p.add_argument("--api-key", metavar="KEY",
                   help="API key (default: $DNNFUSION_API_KEY, else the config file)")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="where to write the artifact .tar.gz (a folder: dnnfusion-<id>.tar.gz "
                   "inside it)")
    p.add_argument("--timeout", type=float, default=3600.0, metavar="S",
                   help="seconds to wait for the compilation (default 3600); it goes on on the "
                   "server after that")
    p.set_defaults(handler=run)


def _mib(n: int | None) -> str:
    return "?" if n is None else f"{n / 2**20:.1f} MiB"


class Progress:
    """Upload bytes and compilation stages on ``out``. Every state change and every stage start
    seen is a line, and so is every finished stage with the time the server measured for it
    (also the stages too short for a poll to see); on a terminal one live line more shows the
    current stage's elapsed time. The bracket holds the seconds since the submit started."""

    def __init__(self, out: TextIO, live: bool) -> None:
        self.out, self.live = out, live
        self.start = time.monotonic()
        self.state: str | None = None
        self.stage: str | None = None
        self.stage_since = self.start
        self.finished: set[str] = set()
        self.upload_shown = -1

    def _elapsed(self) -> str:
        return f"[{time.monotonic() - self.start:6.1f} s]"

    def _line(self, text: str, final: bool = True) -> None:
        if self.live:
            self.out.write(f"\r\033[K{text}" + ("\n" if final else ""))
        elif final:
            self.out.write(text + "\n")
        self.out.flush()

    def upload(self, sent: int, total: int | None) -> None:
        if not self.live:
            return
        shown = sent * 100 // total if total else sent >> 20
        if shown != self.upload_shown:
            self.upload_shown = shown
            what = f"{shown}% of {_mib(total)}" if total else f"{_mib(sent)} (packed on the fly)"
            self._line(f"{self._elapsed()} uploading {what}", final=False)

    def note(self, text: str) -> None:
        self._line(f"{self._elapsed()} {text}")

    def __call__(self, status) -> None:
        for name, ms in status.stages_ms.items():
            if name not in self.finished:
                self.finished.add(name)
                self.note(f"{name} done ({ms / 1000:.1f} s)")
        if status.state != self.state:
            self.state = status.state
            self.note(status.state)
        if status.state == "running" and status.stage and status.stage != self.stage:
            self.stage, self.stage_since = status.stage, time.monotonic()
            if status.stage not in self.finished:
                self.note(f"{status.stage} ...")
        if self.live and status.state == "running" and self.stage:
            spent = time.monotonic() - self.stage_since
            self._line(f"{self._elapsed()} {self.stage} ({spent:.1f} s)", final=False)

    def finish(self) -> None:
        if self.live:
            self._line("", final=False)


def summary_lines(model_path: Path, status, artifact: Path) -> list[str]:
    """The summary ``dnnfusion submit`` prints (all numbers from the server's status)."""
    s = status.summary
    nodes, blocks = s.get("original_nodes"), s.get("fused_blocks")
    lines = [f"model          {model_path.name}"]
    lines.append(f"compilation    {status.id}")
    if status.cache_hit:
        lines.append(f"cache          hit: the results of compilation {status.cached_from} "
                     "(nothing compiled)")
    if nodes is not None and blocks:
        lines.append(f"nodes          {nodes} -> {blocks} fused blocks ({nodes / blocks:.2f}x fewer "
                     "kernels)")
    ours, ort = s.get("latency_ms"), s.get("ort_latency_ms")
    if ours and ort:
        lines.append(f"latency        ours {ours:.2f} ms, ONNX Runtime {ort:.2f} ms "
                     f"(speed-up {ort / ours:.2f}x)")
    else:
        lines.append("latency        not measured (compare_with_onnxruntime was off)")
    if s.get("max_abs_error") is not None:
        lines.append(f"max abs error  {s['max_abs_error']:.3g} (vs ONNX Runtime)")
    if status.stages_ms:
        stages = ", ".join(f"{k} {v / 1000:.1f} s" for k, v in status.stages_ms.items())
        lines.append(f"stages         {stages}")
    lines.append(f"artifact       {artifact} ({_mib(artifact.stat().st_size)}, "
                 f"{artifact.stat().st_size} bytes)")
    return lines


def waiting_out_quota(send, progress: Progress, deadline: float, what: str):
    """``send()``, and again after each 429 whose ``Retry-After`` still fits before
    ``deadline`` (``time.monotonic()`` seconds), with a progress note per wait. A 429 without
    ``Retry-After`` (stored bytes: waiting frees nothing) or past the deadline is raised."""
    from dnnfusion.client import QuotaExceededError

    while True:
        try:
            return send()
        except QuotaExceededError as err:
            wait = err.retry_after
            if wait is None or time.monotonic() + wait > deadline:
                raise
            progress.note(f"{what}: {err.detail}; waiting {wait:.0f} s as the server asks")
            time.sleep(wait)


def run(args: argparse.Namespace) -> int:
    try:
        from dnnfusion.client import Client, DnnfusionError, WaitTimeoutError
    except ImportError as err:
        print(missing_extra_message(err, "dnnfusion submit", "client"), file=sys.stderr)
        return 2
    shapes = input_shapes_arg(args.input_shape)  # ShapeError: one line, exit 2 (cli.main)
    if args.timeout <= 0:
        print("error: --timeout must be positive", file=sys.stderr)
        return 2
    model_path = Path(args.model)
    if not model_path.exists():
        print(f"error: {model_path}: no such file or folder", file=sys.stderr)
        return 2
    progress = Progress(sys.stderr, live=sys.stderr.isatty())
    deadline = time.monotonic() + args.timeout
    try:
        with Client(args.server, args.api_key) as client:
            progress.note(f"uploading {model_path.name} to {client.url}")
            model = waiting_out_quota(
                lambda: client.upload_model(model_path, on_upload=progress.upload), progress,
                deadline, "upload")
            progress.note(f"model {model.id} ({'stored' if model.created else 'already stored'}, "
                          f"{_mib(model.size_bytes)} as {model.upload_format})")
            # A fresh Idempotency-Key: a retried POST can never start a second compilation.
            key = uuid.uuid4().hex
            job = waiting_out_quota(
                lambda: client.compile(model, input_shapes=shapes, target=args.target,
                                       device_class=args.device_class, cache=not args.no_cache,
                                       idempotency_key=key), progress, deadline, "compile")
            first = job.last_status
            if first is not None and first.cache_hit:
                progress.note(f"compilation {job.id} (cache hit: the results of compilation "
                              f"{first.cached_from})")
            else:
                progress.note(f"compilation {job.id}")
            try:
                status = job.wait(max(1.0, deadline - time.monotonic()), on_progress=progress)
            finally:
                progress.finish()
            artifact = job.download(args.output)
            progress.note(f"downloaded {artifact}")
    except WaitTimeoutError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except DnnfusionError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print("\n".join(summary_lines(model_path, status, artifact)), flush=True)
    return 0
