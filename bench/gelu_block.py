"""The issue-#13 case: a small 1-D CNN block Add + Gelu(tanh approximation) + GlobalMaxPool over
(1, 512, 508) float32, compiled and timed (one OpenMP thread, min of N runs, since the machine
may be shared); prints the block time, ns per element and the max abs difference from ONNX
Runtime. Run it from two source trees (PYTHONPATH) to compare code generators.

CLI:  python -m bench.gelu_block [--runs N] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

SHAPE = (1, 512, 508)


def build() -> onnx.ModelProto:
    """x (1, 512, 508) + b (512, 1) -> Gelu(approximate="tanh") -> GlobalMaxPool (1, 512, 1)."""
    b = np.random.default_rng(1).standard_normal((512, 1)).astype(np.float32)
    g = helper.make_graph(
        [helper.make_node("Add", ["x", "b"], ["a"]),
         helper.make_node("Gelu", ["a"], ["g"], approximate="tanh"),
         helper.make_node("GlobalMaxPool", ["g"], ["y"])],
        "gelu_block",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, SHAPE)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, (1, 512, 1))],
        initializer=[numpy_helper.from_array(b, "b")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 20)])
    m.ir_version = 10
    return onnx.shape_inference.infer_shapes(m, strict_mode=True)


def main(argv: list[str] | None = None) -> int:
    from compiler_core.compile import compile_model
    from compiler_core.runtime import InferenceSession

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--out", help="artifact directory (default: a temporary one)")
    args = ap.parse_args(argv)
    proto = build()
    out = Path(args.out or tempfile.mkdtemp(prefix="gelu_block_"))
    compile_model(proto, output_dir=out)
    sess = InferenceSession(out, threads=1)
    x = np.random.default_rng(0).standard_normal(SHAPE).astype(np.float32) * 3
    best = float("inf")
    for _ in range(args.runs):
        t0 = time.perf_counter()
        (y,) = sess.run(None, {"x": x})
        best = min(best, time.perf_counter() - t0)
    import onnxruntime as ort

    want = ort.InferenceSession(proto.SerializeToString(),
                                providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    n = int(np.prod(SHAPE))
    print(f"artifact {out}: min of {args.runs} runs {best * 1e3:.3f} ms, "
          f"{best * 1e9 / n:.2f} ns/element, max |ours - ORT| {np.abs(y - want).max():.3g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
