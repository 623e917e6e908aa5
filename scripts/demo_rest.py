"""README command 1: the main job end to end on one machine.

Starts the embedded service (`dnnfusion serve`: SQLite, in-process worker, local storage),
uploads an ONNX model over REST (default: the PP-OCRv4 text detector with its trained weights,
shipped in the repository's models/ folder, compiled for a 1x3x640x640 input),
waits for the compilation while printing its stages, downloads the artifact, runs it, and
prints the fusion summary and the latency against ONNX Runtime on the same random inputs.

    python scripts/demo_rest.py [--model PATH] [--input-shape NAME=DIMS ...] [--port N]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import httpx
import onnx

from bench.real_models import real_model_path

DEFAULT_MODEL = "ppocr_v4_det.onnx"
DEFAULT_SHAPES = ["x=1x3x640x640"]


def say(message: str) -> None:
    print(f"[demo] {message}", flush=True)


def start_server(port: int, data_dir: Path) -> tuple[subprocess.Popen, str]:
    """Start `dnnfusion serve` and return it with the first user's API key it prints."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "dnnfusion", "serve", "--port", str(port), "--data-dir",
         str(data_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    key = None
    deadline = time.monotonic() + 120
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        match = re.search(r"X-API-Key: (\S+)", line)
        if match:
            key = match.group(1)
        if "API on http" in line:
            break
    if key is None:
        proc.kill()
        raise SystemExit("error: the service did not start (no API key printed)")
    base = f"http://127.0.0.1:{port}/api/v1"
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return proc, key
        except httpx.TransportError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("error: the service did not answer on /health within 120 s")


def shapes_arg(values: list[str] | None) -> dict[str, list[int]]:
    out = {}
    for text in values or []:
        name, _, dims = text.rpartition("=")
        out[name] = [int(d) for d in dims.split("x")]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=None,
                    help=f"ONNX file to upload (default: {DEFAULT_MODEL} from models/, pinned to "
                         f"{DEFAULT_SHAPES[0]})")
    ap.add_argument("--input-shape", action="append", metavar="NAME=DIMS")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--timeout", type=float, default=1800, help="seconds to wait (default 1800)")
    args = ap.parse_args(argv)
    if args.model is None:
        args.model = real_model_path(DEFAULT_MODEL)
        args.input_shape = args.input_shape or DEFAULT_SHAPES

    with tempfile.TemporaryDirectory(prefix="dnnfusion-demo-") as tmp:
        tmp_path = Path(tmp)
        say(f"starting the embedded service (data in {tmp_path / 'data'})")
        server, key = start_server(args.port, tmp_path / "data")
        try:
            return run_job(args, key, tmp_path)
        finally:
            server.terminate()
            server.wait(timeout=30)


def run_job(args: argparse.Namespace, key: str, tmp: Path) -> int:
    from compiler_core.runtime.validate import validate_artifact

    # Paths are absolute (the Location header is), so the client's base is the server root.
    client = httpx.Client(base_url=f"http://127.0.0.1:{args.port}", headers={"X-API-Key": key},
                          timeout=300)
    say(f"uploading {args.model.name} ({args.model.stat().st_size / 2**20:.1f} MiB)")
    with args.model.open("rb") as fh:
        r = client.post("/api/v1/models", files={"file": (args.model.name, fh)})
    r.raise_for_status()
    model_id = r.json()["id"]
    r = client.post("/api/v1/compilations", json={"model_id": model_id, "target": "host",
                                            "input_shapes": shapes_arg(args.input_shape)})
    r.raise_for_status()
    location = r.headers["Location"]
    say(f"compilation queued: {location}")
    seen = None
    deadline = time.monotonic() + args.timeout
    while True:
        resp = client.get(location)
        resp.raise_for_status()
        job = resp.json()
        now = (job["state"], job["stage"])
        if now != seen:
            say(f"  {job['state']}" + (f" / {job['stage']}" if job["stage"] else ""))
            seen = now
        if job["state"] in ("succeeded", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    if job["state"] != "succeeded":
        print(f"error: compilation {job['state']}: {job.get('error')}", file=sys.stderr)
        return 1
    archive = tmp / "artifact.tar.gz"
    with client.stream("GET", f"{location}/artifact") as resp, archive.open("wb") as out:
        resp.raise_for_status()
        for chunk in resp.iter_bytes():
            out.write(chunk)
    say(f"downloaded the artifact ({archive.stat().st_size / 2**20:.1f} MiB)")
    artifact = tmp / "artifact"
    with tarfile.open(archive) as tar:
        tar.extractall(artifact, filter="data")
    root = next(p.parent for p in artifact.rglob("manifest.json"))
    report = client.get(f"{location}/report").json()
    say("running it against ONNX Runtime (same random inputs, 2 threads, median of 20)")
    v = validate_artifact(root, onnx.load(os.fspath(args.model)), runs=20, threads=2)
    print()
    print(f"model                    {args.model.name}")
    print(f"compute nodes (original) {report['original_nodes']}")
    print(f"fused blocks             {report['fused_blocks']}")
    print(f"fusion rate              {report['original_nodes'] / report['fused_blocks']:.2f}x")
    before, after = report["intermediate_bytes_before"], report["intermediate_bytes_after"]
    print(f"intermediate bytes       {before / 2**20:.1f} MiB -> {after / 2**20:.1f} MiB")
    print(f"arena (peak) bytes       {report['arena_bytes'] / 2**20:.1f} MiB")
    print(f"max abs error vs ORT     {v.max_abs_error:.3g} "
          f"({'within' if v.within_tolerance else 'OUTSIDE'} rtol 1e-3, atol 1e-4)")
    faster, ratio = (("dnnfusion", v.ort_latency_ms / v.latency_ms)
                     if v.latency_ms <= v.ort_latency_ms
                     else ("ONNX Runtime", v.latency_ms / v.ort_latency_ms))
    print(f"latency (ms, median)     ours {v.latency_ms:.2f}, ONNX Runtime {v.ort_latency_ms:.2f}"
          f"  ({faster} {ratio:.2f}x faster)")
    return 0 if v.within_tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
