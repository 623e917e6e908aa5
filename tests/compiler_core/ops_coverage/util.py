"""Helpers for the operator-coverage tests: compile, compare with ONNX Runtime on given feeds,
and report the plan's blocks (the operators each holds, in topological order)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from compiler_core.compile import compile_model
from compiler_core.runtime import InferenceSession
from tests.compiler_core.codegen.util import plan
from tests.helpers.ort import run_ort

_count = itertools.count()


def check(proto, tmp_path: Path, feeds: list[dict[str, np.ndarray]], *,
          blocks: list[list[str]] | None = None):
    """Compile ``proto`` (no algebraic rewriting), assert its blocks hold exactly ``blocks``
    (when given), and compare every output with ONNX Runtime on each feed: floats with rtol
    1e-3 / atol 1e-4, integers and booleans exactly. Returns the artifact directory."""
    planned = plan(proto)
    if blocks is not None:
        assert [b.ops for b in planned.plan.blocks] == blocks
    out = compile_model(planned, output_dir=tmp_path / f"art{next(_count)}")
    with InferenceSession(out) as sess:
        names = [o.name for o in sess.get_outputs()]
        for f in feeds:
            want = run_ort(proto, f)
            got = dict(zip(names, sess.run(None, f), strict=True))
            assert set(got) == set(want)
            for k, w in want.items():
                assert got[k].shape == w.shape and got[k].dtype == w.dtype, (k, got[k], w)
                if w.dtype.kind == "f":
                    np.testing.assert_allclose(got[k], w, rtol=1e-3, atol=1e-4, err_msg=k)
                else:
                    np.testing.assert_array_equal(got[k], w, err_msg=k)
    return out
