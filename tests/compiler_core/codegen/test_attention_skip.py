"""The attention kernel stops each row tile at its last live key column (codegen/attention.py):
columns whose additive mask is <= -1e30 in every row of the tile (GPT-2's causal Where fill
and padding masks of float32's min) add exact zeros, so they are not computed. Each graph is
the blocks {Q, K, V projections (horizontal)}, {attention: MatMul, scale, Where/Add masks,
Softmax, MatMul and the head views}, {output projection}, checked against ONNX Runtime
(rtol 1e-3, atol 1e-4)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.compiler_core.codegen.test_attention import attention_graph
from tests.compiler_core.codegen.util import compile_and_check

pytestmark = pytest.mark.slow  # each case compiles a model and runs it against ORT

MIN = float(np.finfo(np.float32).min)


def feeds_with(valid, s, h, fill=MIN):
    """x random; the padding mask 0 on the first ``valid[b]`` keys of batch item b, ``fill``
    after (``valid[b] = 0``: every key of that item masked)."""
    def feeds(seed):
        rng = np.random.default_rng(seed)
        m = np.zeros((len(valid), 1, 1, s), np.float32)
        for bi, n in enumerate(valid):
            m[bi, ..., n:] = fill
        return {"x": rng.standard_normal((len(valid), s, h)).astype(np.float32), "mask": m}
    return feeds


def kinds_and_source(planned, out):
    src = (out / "model.c").read_text()
    return [b.kind for b in planned.plan.blocks], src


@pytest.mark.parametrize(
    ("valid", "causal", "s"),
    [
        ([70, 100], "where", 100),  # GPT-2: causal + padding, two row tiles of 64 and 36
        ([5, 100], None, 100),  # BERT: padding only; item 0 keeps 5 of 100 keys
        ([0, 37], None, 40),  # item 0: every key masked, no column may be skipped
        ([0, 9], "where", 9),  # causal, item 0 fully padded: the rows fall back to all keys
    ],
)
def test_dead_key_columns_are_skipped_and_match_ort(valid, causal, s, tmp_path):
    nh, dh = 2, 8
    proto = attention_graph(len(valid), s, nh, dh, mask=[len(valid), 1, 1, s], causal=causal)
    planned, out = compile_and_check(proto, tmp_path, feeds=feeds_with(valid, s, nh * dh))
    kinds, src = kinds_and_source(planned, out)
    assert kinds == ["horizontal", "attention", "fused"]
    att = next(b for b in planned.plan.blocks if b.kind == "attention")
    assert att.ops.count("Softmax") == 1 and att.ops.count("MatMul") == 2
    # the scores' sgemm computes kl columns, P.V sums kl of them
    assert "int64_t kl0 = 0;" in src
    assert ", kl0, 8, " in src and ", 8, kl0, " in src


def test_infinite_fill_and_masks_above_the_dead_level(tmp_path):
    """A padding mask of -inf is dead too; one of -10000 (BERT's old exports) is not: those
    columns are computed as before. Both match ORT."""
    nh, dh, s = 2, 8, 70
    for name, fill in (("inf", -np.inf), ("old", -10000.0)):
        proto = attention_graph(2, s, nh, dh, mask=[2, 1, 1, s], causal="where")
        compile_and_check(proto, tmp_path / name, feeds=feeds_with([30, 66], s, nh * dh, fill))


def test_no_mask_no_skip(tmp_path):
    """Without a mask or a dead fill the kernel computes every key column (no kl)."""
    proto = attention_graph(1, 12, 2, 8)
    planned, out = compile_and_check(proto, tmp_path)
    kinds, src = kinds_and_source(planned, out)
    assert "attention" in kinds and "kl0" not in src
