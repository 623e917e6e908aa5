"""``dnnfusion run``: run a compiled artifact on inputs from an .npz file.

``--profile`` runs the model a few times with per-block timers and prints the slowest fused
blocks (median microseconds, share of the total, the kernel name in model.c and the ONNX
operators it holds), so time can be traced to its kernel.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run a compiled artifact on inputs from an .npz file",
        description="Run an artifact (directory or .tar.gz from `dnnfusion compile`) on the "
        "arrays of an .npz file (one array per model input, by name); print each output's "
        "name, dtype and shape.",
    )
    p.add_argument("artifact", help="artifact directory or .tar.gz")
    p.add_argument("--inputs", required=True, metavar="IN.npz",
                   help="inputs: an .npz with one array per model input (np.savez(f, x=...))")
    p.add_argument("--outputs", metavar="OUT.npz", help="write the outputs to this .npz")
    p.add_argument("--profile", action="store_true",
                   help="time every fused block (median over --runs) and show the slowest")
    p.add_argument("--runs", type=int, default=5, metavar="N",
                   help="profiled runs after one warm-up (default 5)")
    p.add_argument("--top", type=int, default=10, metavar="K",
                   help="slowest blocks to show with --profile (default 10)")
    p.add_argument("--threads", type=int, metavar="N",
                   help="OpenMP threads (default $DNNFUSION_NUM_THREADS, else one per CPU)")
    p.set_defaults(handler=run)


def load_npz(path: str) -> dict:
    """The arrays of an .npz file; :class:`DnnFusionError` if it is missing or unreadable."""
    import numpy as np

    from compiler_core.errors import DnnFusionError

    if not Path(path).is_file():
        raise DnnFusionError(f"{path}: no such file")
    with open(path, "rb") as f:
        head = f.read(6)
    if head.startswith(b"\x93NUMPY"):
        raise DnnFusionError(f"{path}: a single .npy array; save the inputs with np.savez")
    if not head.startswith(b"PK"):
        raise DnnFusionError(f"{path}: not an .npz file (save the inputs with np.savez)")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise DnnFusionError(f"{path}: not a readable .npz file ({e})") from None


def save_npz(path: str, arrays: dict) -> None:
    """Write ``arrays`` to ``path`` atomically (temporary file + rename)."""
    import numpy as np

    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent or ".", prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run(args: argparse.Namespace) -> int:
    from compiler_core.errors import DnnFusionError
    from compiler_core.runtime import InferenceSession

    if args.runs < 1 or args.top < 1:
        raise DnnFusionError("--runs and --top must be at least 1")
    if args.threads is not None and args.threads < 1:
        raise DnnFusionError("--threads must be at least 1")
    feeds = load_npz(args.inputs)
    with InferenceSession(args.artifact, threads=args.threads) as sess:
        t0 = time.perf_counter()
        names = [o.name for o in sess.get_outputs()]
        outs = sess.run(None, feeds)
        first_ms = (time.perf_counter() - t0) * 1e3
        print(f"ran {args.artifact} (target {sess.target}, {sess.threads} threads) in "
              f"{first_ms:.2f} ms", file=sys.stderr)
        width = max(len(n) for n in names) if names else 0
        for name, arr in zip(names, outs, strict=True):
            print(f"{name:<{width}}  {arr.dtype}  {list(arr.shape)}")
        if args.outputs:
            save_npz(args.outputs, dict(zip(names, outs, strict=True)))
        if args.profile:
            _profile(sess, feeds, args.runs, args.top)
    return 0


def _profile(sess, feeds: dict, runs: int, top: int) -> None:
    per_block: list[list[float]] = []
    walls = []
    for _ in range(runs):
        t0 = time.perf_counter()
        _, times = sess.run_profiled(None, feeds)
        walls.append((time.perf_counter() - t0) * 1e3)
        if not per_block:
            per_block = [[] for _ in times]
        for i, t in enumerate(times):
            per_block[i].append(t)
    med = [statistics.median(ts) for ts in per_block]
    total = sum(med) or 1.0
    print(f"\nprofile: {len(med)} fused blocks, median of {runs} runs: "
          f"{statistics.median(walls):.3f} ms per run, {total / 1e3:.3f} ms in kernels")
    order = sorted(range(len(med)), key=lambda i: -med[i])[:top]
    print(f"{'rank':>4}  {'block':>5}  {'us':>10}  {'share':>6}  {'kernel':<14}  ops")
    for rank, i in enumerate(order, 1):
        b = sess.blocks[i] if i < len(sess.blocks) else {}  # kernels run in manifest order
        ops = "+".join(b.get("ops", [])) or "?"
        if len(ops) > 70:
            ops = ops[:67] + "..."
        print(f"{rank:>4}  {b.get('id', i):>5}  {med[i]:>10.1f}  {100 * med[i] / total:>5.1f}%  "
              f"{b.get('kernel', '?'):<14}  {ops}")
