"""The operator registry against the ONNX schemas and against code generation: one check per
promise a row makes (compiler_core/ir/ops/)."""

from __future__ import annotations

import inspect
import re

import numpy as np
import onnx
import onnx.defs
import onnx.reference
import pytest

from compiler_core.codegen.anchors import ANCHORS
from compiler_core.codegen.ops import EMITTERS, INDEX_OPS, resolve
from compiler_core.frontend.opset import MAX_OPSET, MIN_OPSET, TARGET_OPSET
from compiler_core.ir.mapping import MappingType as M
from compiler_core.ir.ops import (
    ONNX_DOMAINS,
    REGISTRY,
    Prop,
    Rule,
    const_inputs,
    lookup,
    op_properties,
    op_rule,
)
from compiler_core.ir.ops.spec import Reduction

ROWS = sorted(REGISTRY.values(), key=lambda r: r.name)
IDS = [r.name for r in ROWS]
# Input names (ONNX schemas, opset 21) that are parameters of an operator, not data.
PARAMETER_INPUTS = {"shape", "axes", "axis", "starts", "ends", "steps", "split", "roi", "scales",
                    "sizes", "pads", "ratio", "training_mode", "repeats", "k", "K", "start",
                    "limit", "delta"}
# Operators whose generic "input" is a compile-time parameter, and why.
SHAPE_INPUTS = {"ConstantOfShape": "the output shape", "EyeLike": "only its shape is used"}


def _schema(name: str) -> onnx.defs.OpSchema:
    return onnx.defs.get_schema(name, TARGET_OPSET, "")


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_every_row_names_a_default_domain_operator(row):
    assert row.domain == ""
    assert onnx.defs.has(row.name, MAX_OPSET, ""), row.name


def test_every_operator_the_frontend_accepts_has_a_row():
    # The importer accepts any default-domain operator of opsets 9..21 (frontend/validate.py).
    accepted = {
        s.name
        for s in onnx.defs.get_all_schemas_with_history()
        if s.domain == "" and s.since_version <= MAX_OPSET
        and any(onnx.defs.has(s.name, v, "") for v in (MIN_OPSET, MAX_OPSET))
    }
    assert sorted(accepted - set(REGISTRY)) == []


@pytest.mark.parametrize("row", [r for r in ROWS if r.const_inputs], ids=lambda r: r.name)
def test_compile_time_inputs_exist_in_the_schema_and_are_parameters(row):
    formal = _schema(row.name).inputs
    for pos in row.const_inputs:
        assert pos < len(formal), f"{row.name} has no input {pos}"
        param = formal[pos]
        assert param.option != onnx.defs.OpSchema.FormalParameterOption.Variadic
        assert param.name in PARAMETER_INPUTS or row.name in SHAPE_INPUTS, (
            f"{row.name} input {pos} is {param.name!r}")


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_mapping_type_is_consistent_with_the_code_generator(row):
    assert isinstance(row.mapping, M) and isinstance(row.rule, Rule)
    if row.rule is Rule.ELEMENTWISE:
        assert row.mapping is M.ONE_TO_ONE  # One-to-Many is decided per node
    if row.anchor is not None:
        assert row.emitter is None and row.mapping is M.MANY_TO_MANY
    if row.emitter is not None:
        assert row.mapping is not M.MANY_TO_MANY
    if row.mapping is M.OPAQUE:
        assert not row.generated and row.props == Prop.NONE
    if row.index:
        assert row.cost == 0 and row.emitter is not None
    assert row.cost in (0, 1, 4)
    if row.mapping in (M.REORGANIZE, M.SHUFFLE):
        assert row.flops is not None and row.flops.k == 0  # pure data movement is free


@pytest.mark.parametrize("row", [r for r in ROWS if r.emitter], ids=lambda r: r.name)
def test_every_emitter_reference_resolves(row):
    fn = resolve(row.emitter)
    assert list(inspect.signature(fn).parameters) == ["g", "node", "pos", "idx"]
    assert EMITTERS[row.name] is fn


@pytest.mark.parametrize("row", [r for r in ROWS if r.anchor], ids=lambda r: r.name)
def test_every_anchor_reference_builds_an_anchor(row):
    anchor = ANCHORS[row.name]
    assert type(anchor).__name__ == row.anchor.target.split(":")[1]
    assert isinstance(anchor.tiled_epilogue, bool)
    assert callable(anchor.needs) and callable(anchor.emit)


def test_code_generation_tables_are_the_rows():
    assert set(EMITTERS) == {r.name for r in ROWS if r.emitter}
    assert set(ANCHORS) == {r.name for r in ROWS if r.anchor}
    assert {r.name for r in ROWS if r.index} == INDEX_OPS


@pytest.mark.parametrize("row", [r for r in ROWS if r.c or r.c_float], ids=lambda r: r.name)
def test_templates_use_the_operands_of_their_emitter(row):
    arity = {"emit_unary": 1, "emit_binary": 2, "emit_variadic": 2}[row.emitter.split(":")[1]]
    for template in (row.c, row.c_float):
        if template is not None:
            used = {int(k) for k in re.findall(r"\{(\d)\}", template)}
            assert used == set(range(arity)), template
    if arity == 2:
        assert row.c is not None


REDUCTIONS = [r for r in ROWS if r.anchor and any(isinstance(a, Reduction) for a in r.anchor.args)]


def test_the_reduce_rows_have_reductions():
    assert {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin"} <= {r.name for r in REDUCTIONS}


@pytest.mark.parametrize("row", REDUCTIONS, ids=lambda r: r.name)
def test_reduction_rows_give_their_anchor_well_formed_c(row):
    (reduce,) = [a for a in row.anchor.args if isinstance(a, Reduction)]
    assert reduce.clause in ("+", "*", "max", "min")
    assert set(re.findall(r"\{(\w+)\}", reduce.step)) == {"acc", "v"}
    assert set(re.findall(r"\{(\w+)\}", reduce.finish)) <= {"acc", "n"}
    assert reduce.init in ("lowest", "highest") or isinstance(reduce.init, (int, float))
    if row.name.startswith("Reduce"):
        assert row.const_inputs == (1,)  # the axes input
        assert row.flops is not None and row.flops.per == "input"


@pytest.mark.parametrize("row", [r for r in ROWS if r.numpy], ids=lambda r: r.name)
def test_numpy_fold_matches_the_onnx_reference(row):
    """The rewriter folds constant replacements with the row's numpy function: it must
    compute what the operator computes (reference: onnx.reference)."""
    assert row.elementwise
    n_in = len(_schema(row.name).inputs)
    rng = np.random.default_rng(0)
    arrays = [rng.uniform(0.5, 2.0, size=(2, 3)).astype(np.float32) for _ in range(n_in)]
    names = [f"x{i}" for i in range(n_in)]
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node(row.name, names, ["y"])], "g",
        [onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, [2, 3]) for n in names],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [2, 3])],
    )
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 21)])
    (want,) = onnx.reference.ReferenceEvaluator(model).run(None, dict(zip(names, arrays, strict=True)))
    np.testing.assert_allclose(row.numpy(*arrays), want, rtol=1e-6)


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_rewriter_facts_are_well_formed(row):
    assert row.nonneg in (None, "always", "if_all", "if_first")
    if row.symmetric:  # operands swap: an element-wise operator over one type
        formal = _schema(row.name).inputs
        assert row.elementwise and {p.type_str for p in formal} == {formal[0].type_str}
    if row.random:
        assert row.mapping is M.OPAQUE and row.nondeterministic
    if row.numpy is not None or row.generated:
        assert not row.random


def test_lookups_outside_the_default_domain_are_opaque():
    assert ONNX_DOMAINS == ("", "ai.onnx")
    assert lookup("ai.onnx", "Relu") is REGISTRY["Relu"]
    for domain in ("com.microsoft", "ai.onnx.ml"):
        assert lookup(domain, "Relu") is None
        assert op_rule(domain, "MatMul") == (Rule.FIXED, M.OPAQUE)
        assert op_properties(domain, "Add") == Prop.NONE
        assert const_inputs(domain, "Reshape") == ()
    assert op_rule("", "NoSuchOp") == (Rule.FIXED, M.OPAQUE)


def test_rows_carry_the_papers_facts():
    # Table 2 / shared/dnnfusion.md §1, and the properties of paper §4.2's Table 4 rules.
    assert op_rule("", "Add") == (Rule.ELEMENTWISE, M.ONE_TO_ONE)
    assert op_rule("", "Transpose") == (Rule.FIXED, M.SHUFFLE)
    assert op_rule("", "Reshape") == (Rule.FIXED, M.REORGANIZE)
    assert op_rule("", "Conv") == (Rule.FIXED, M.MANY_TO_MANY)
    assert op_rule("", "Expand") == (Rule.FIXED, M.ONE_TO_MANY)
    assert op_rule("", "Shape") == (Rule.FIXED, M.OPAQUE)
    assert op_properties("", "Mul") == Prop.ASSOCIATIVE | Prop.COMMUTATIVE | Prop.DISTRIBUTIVE
    assert op_properties("", "ReduceProd") == Prop.COMMUTATIVE  # ReduceProd(Exp) = Exp(ReduceSum)
    assert const_inputs("", "Slice") == (1, 2, 3, 4)
