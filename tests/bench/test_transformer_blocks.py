"""bench.transformer_blocks sorts our kernels and ORT's profiled nodes into the same kinds."""

from __future__ import annotations

import json

from bench.transformer_blocks import Walker, ort_kind, ours_kinds

H, S = 8, 4


def node(op, *ins, out=None):
    args = {"op_name": op, "input_type_shape": [{t: list(s)} for t, s in ins]}
    if out is not None:
        args["output_type_shape"] = [{"float": list(out)}]
    return op, args


def test_ort_bert_layer_in_execution_order():
    """ORT runs Q and K, the scores, then V (interleaved), the output projection, FFN1 with
    its GELU node, FFN2, SkipLayerNormalization; the pooler Gemm has one row."""
    f = "float"
    seq = [
        node("Gather", ("float", (30, H)), ("int64", (1, S))),
        node("Gemm", (f, (S, H)), (f, (H,)), out=(S, H)),
        node("Gemm", (f, (S, H)), (f, (H,)), out=(S, H)),
        node("Transpose", (f, (1, S, 2, H // 2))),
        node("FusedMatMul", (f, (1, 2, S, 4)), (f, (1, 2, 4, S))),
        node("Cast", ("int64", (1, S))),
        node("Where", ("bool", (1, 1, S, S)), (f, ()), (f, ())),
        node("Softmax", (f, (1, 2, S, S))),
        node("Gemm", (f, (S, H)), (f, (H,)), out=(S, H)),
        node("MatMul", (f, (1, 2, S, S)), (f, (1, 2, S, 4))),
        node("Reshape", (f, (1, S, 2, 4)), ("int64", (3,))),
        node("Gemm", (f, (S, H)), (f, (H,)), out=(S, H)),
        node("SkipLayerNormalization", (f, (1, S, H)), (f, (1, S, H))),
        node("Gemm", (f, (S, H)), (f, (4 * H,)), out=(S, 4 * H)),
        node("Gelu", (f, (1, S, 4 * H))),
        node("Gemm", (f, (S, 4 * H)), (f, (H,)), out=(S, H)),
        node("SkipLayerNormalization", (f, (1, S, H)), (f, (1, S, H))),
        node("Gemm", (f, (1, H)), (f, (H,)), out=(1, H)),
    ]
    w = Walker(H)
    got = [ort_kind(w, op, args, S) for op, args in seq]
    assert got == ["embed", "qkv", "qkv", "qkv", "attention", "mask", "mask", "attention",
                   "qkv", "attention", "attention", "out_proj", "layernorm", "ffn1", "ffn1",
                   "ffn2", "layernorm", "pooler"]


def test_ort_gpt2_fused_qkv():
    f = "float"
    w = Walker(H)
    qkv = ort_kind(w, *node("Gemm", (f, (S, H)), (f, (3 * H,)), out=(S, 3 * H)), S)
    att = ort_kind(w, *node("Softmax", (f, (1, 2, S, S))), S)
    out = ort_kind(w, *node("Gemm", (f, (S, H)), (f, (H,)), out=(S, H)), S)
    assert (qkv, att, out) == ("qkv", "attention", "out_proj")


def test_ours_by_place(tmp_path):
    blocks = [
        ("fused", ["Gather", "Add"]), ("fused", ["LayerNormalization"]),
        ("fused", ["Cast", "GatherND", "And", "Where"]),
        ("horizontal", ["MatMul", "Add", "MatMul", "Add", "MatMul", "Add"]),
        ("attention", ["MatMul", "Mul", "Add", "Softmax", "MatMul"]),
        ("fused", ["MatMul", "Add", "Add"]), ("fused", ["LayerNormalization"]),
        ("fused", ["MatMul"]), ("fused", ["Add", "Gelu", "MatMul", "Add", "Add"]),
        ("fused", ["LayerNormalization"]), ("fused", ["Gemm", "Tanh"]),
    ]
    report = {"blocks": [{"kind": k, "ops": ops} for k, ops in blocks]}
    (tmp_path / "report.json").write_text(json.dumps(report))
    assert ours_kinds(str(tmp_path), H) == [
        "embed", "layernorm", "mask", "qkv", "attention", "out_proj", "layernorm", "ffn1",
        "ffn2", "layernorm", "pooler"]
