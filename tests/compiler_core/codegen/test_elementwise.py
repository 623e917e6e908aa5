"""Element-wise operators alone, in fused chains, with broadcasting, vs ONNX Runtime."""

from __future__ import annotations

import numpy as np
import pytest

from tests.compiler_core.codegen.util import (
    BOOL,
    F32,
    I64,
    compile_and_check,
    const,
    model,
    node,
    vi,
)

UNARY = [
    ("Relu", {}), ("Sigmoid", {}), ("Tanh", {}), ("Exp", {}), ("Neg", {}), ("Abs", {}),
    ("Erf", {}), ("Floor", {}), ("Ceil", {}), ("Round", {}), ("Sign", {}), ("Sin", {}),
    ("Cos", {}), ("Softsign", {}), ("Softplus", {}), ("Identity", {}),
    ("Gelu", {}), ("Gelu", {"approximate": "tanh"}), ("HardSigmoid", {"alpha": 0.3}),
    ("HardSwish", {}), ("LeakyRelu", {"alpha": 0.1}), ("Elu", {"alpha": 0.7}),
]
POSITIVE = ["Log", "Sqrt", "Reciprocal"]  # applied to Abs(x) + 0.5


@pytest.mark.parametrize(("op", "attrs"), UNARY, ids=[f"{o}{len(a)}" for o, a in UNARY])
def test_unary(op, attrs, tmp_path):
    p = model([node(op, ["x"], ["y"], **attrs)], [vi("x", [2, 3, 17])], [vi("y", [2, 3, 17])])
    compile_and_check(p, tmp_path, blocks=1)


@pytest.mark.parametrize("op", POSITIVE)
def test_unary_positive_domain(op, tmp_path):
    nodes = [node("Abs", ["x"], ["a"]), node("Add", ["a", "h"], ["b"]), node(op, ["b"], ["y"])]
    p = model(nodes, [vi("x", [4, 33])], [vi("y", [4, 33])], [const("h", np.float32(0.5))])
    compile_and_check(p, tmp_path, blocks=1)


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div", "Max", "Min"])
def test_binary_broadcast(op, tmp_path):
    # x [2,3,4,5] op y [3,1,5]: numpy broadcasting in both directions.
    p = model([node(op, ["x", "y"], ["z"])], [vi("x", [2, 3, 4, 5]), vi("y", [3, 1, 5])],
              [vi("z", [2, 3, 4, 5])])
    compile_and_check(p, tmp_path, blocks=1)


def test_pow_and_clip(tmp_path):
    nodes = [
        node("Abs", ["x"], ["a"]),
        node("Pow", ["a", "two"], ["p2"]),
        node("Pow", ["a", "e"], ["p"]),
        node("Add", ["p", "p2"], ["s"]),
        node("Clip", ["s", "lo", "hi"], ["y"]),
    ]
    inits = [const("two", np.float32(2)), const("e", np.float32(1.5)),
             const("lo", np.float32(0.1)), const("hi", np.float32(2.0))]
    p = model(nodes, [vi("x", [8, 40])], [vi("y", [8, 40])], inits)
    compile_and_check(p, tmp_path, blocks=1)


def test_pow_three_is_two_multiplications(tmp_path):
    """GELU's tanh form without rewriting: Pow(x, 3) becomes x*x*x (no libm powf call in the
    loop) and matches ONNX Runtime, negative bases included."""
    nodes = [node("Pow", ["x", "three"], ["c"]), node("Mul", ["c", "k"], ["y"])]
    p = model(nodes, [vi("x", [4, 64])], [vi("y", [4, 64])],
              [const("three", np.float32(3)), const("k", np.float32(0.044715))])
    _, out = compile_and_check(p, tmp_path, blocks=1)
    source = (out / "model.c").read_text()
    assert "powf(" not in source and " * " in source


def test_chain_is_one_block_without_buffers(tmp_path):
    nodes = [
        node("Mul", ["x", "s"], ["a"]),
        node("Add", ["a", "b"], ["c"]),
        node("Sigmoid", ["c"], ["d"]),
        node("Mul", ["c", "d"], ["e"]),  # SiLU
        node("Tanh", ["e"], ["y"]),
    ]
    inits = [const("s", np.float32(0.5)),
             const("b", np.linspace(-1, 1, 16, dtype=np.float32))]
    p = model(nodes, [vi("x", [2, 8, 16])], [vi("y", [2, 8, 16])], inits)
    planned, out = compile_and_check(p, tmp_path, blocks=1)
    report = (out / "report.json").read_text()
    assert '"arena_bytes": 0' in report  # every intermediate stays in registers
    assert planned.plan.blocks[0].ops == ["Mul", "Add", "Sigmoid", "Mul", "Tanh"]


def test_two_outputs_and_intermediate_output(tmp_path):
    # "a" is read outside the block (a graph output): written, and still fused.
    nodes = [node("Relu", ["x"], ["a"]), node("Exp", ["a"], ["y"])]
    p = model(nodes, [vi("x", [5, 7])], [vi("a", [5, 7]), vi("y", [5, 7])])
    compile_and_check(p, tmp_path, blocks=1)


def test_comparisons_where_cast(tmp_path):
    nodes = [
        node("Greater", ["x", "y"], ["g"]),
        node("Less", ["x", "zero"], ["l"]),
        node("Equal", ["k", "two"], ["e"]),
        node("Or", ["g", "e"], ["o"]),
        node("Where", ["o", "x", "y"], ["w"]),
        node("Cast", ["l"], ["lf"], to=F32),
        node("Add", ["w", "lf"], ["z"]),
        node("Cast", ["z"], ["zi"], to=I64),
        node("Not", ["l"], ["nl"]),
    ]
    inits = [const("zero", np.float32(0)), const("two", np.int64(2))]
    ins = [vi("x", [3, 10]), vi("y", [3, 10]), vi("k", [3, 10], I64)]
    outs = [vi("z", [3, 10]), vi("zi", [3, 10], I64), vi("nl", [3, 10], BOOL)]

    def feeds(seed):
        rng = np.random.default_rng(seed)
        return {"x": (rng.standard_normal((3, 10)) * 3).astype(np.float32),
                "y": rng.standard_normal((3, 10)).astype(np.float32),
                "k": rng.integers(0, 4, (3, 10)).astype(np.int64)}

    compile_and_check(model(nodes, ins, outs, inits), tmp_path, feeds=feeds, blocks=1)


def test_castlike_takes_the_dtype_of_its_second_input(tmp_path):
    # CastLike(x, like) = Cast(x, to=dtype(like)); float -> int64 truncates toward zero.
    nodes = [node("Mul", ["x", "x"], ["sq"]), node("CastLike", ["sq", "like"], ["y"])]
    p = model(nodes, [vi("x", [3, 5]), vi("like", [1], I64)], [vi("y", [3, 5], I64)])

    def feeds(seed):
        rng = np.random.default_rng(seed)
        return {"x": (rng.standard_normal((3, 5)) * 4).astype(np.float32),
                "like": np.zeros(1, np.int64)}

    compile_and_check(p, tmp_path, feeds=feeds, blocks=1)


def test_int64_arithmetic(tmp_path):
    nodes = [node("Mul", ["k", "three"], ["a"]), node("Sub", ["a", "k2"], ["y"])]
    p = model(nodes, [vi("k", [4, 6], I64), vi("k2", [6], I64)], [vi("y", [4, 6], I64)],
              [const("three", np.int64(3))])
    compile_and_check(p, tmp_path, blocks=1)


def test_broadcast_computed_operand_is_materialized(tmp_path):
    # Sigmoid(mean-like [2,8,1,1]) broadcast over [2,8,6,6] (squeeze-excitation shape).
    nodes = [
        node("Sigmoid", ["s"], ["g"]),
        node("Mul", ["x", "g"], ["y"]),
    ]
    p = model(nodes, [vi("x", [2, 8, 6, 6]), vi("s", [2, 8, 1, 1])], [vi("y", [2, 8, 6, 6])])
    planned, out = compile_and_check(p, tmp_path, blocks=1)
    assert '"arena_bytes": 64' in (out / "report.json").read_text()  # 16 floats, once


def test_cheap_broadcast_operand_stays_virtual(tmp_path):
    nodes = [node("Mul", ["s", "s"], ["g"]), node("Add", ["x", "g"], ["y"])]
    p = model(nodes, [vi("x", [2, 8, 6, 6]), vi("s", [2, 8, 1, 1])], [vi("y", [2, 8, 6, 6])])
    planned, out = compile_and_check(p, tmp_path, blocks=1)
    assert '"arena_bytes": 0' in (out / "report.json").read_text()
