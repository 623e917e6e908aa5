"""One block boundary for every stage: the planner's constraint check, its cost model, the plan
report and code generation see the same inputs, parameters, outputs and internal values."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from compiler_core.codegen.cnames import Names
from compiler_core.codegen.kernel import analyze_block
from compiler_core.ir.boundary import boundary
from compiler_core.planner.constraints import Constraints, check_constraints
from compiler_core.planner.cost import block_traffic
from compiler_core.planner.run import plan_ecg
from tests.compiler_core.planner.graphs import make_ecg, node, tensor, weight


def _names(values):
    return [v.name for v in values]


def _reshape_chain():
    # x -> Relu -> Reshape(shape: a constant [4, 4]) -> Exp -> y, all One-to-One/Reorganize
    shape = numpy_helper.from_array(np.array([4, 4], dtype=np.int64), "shape")
    return make_ecg(
        [
            node("Relu", ["x"], ["r"]),
            node("Reshape", ["r", "shape"], ["t"]),
            node("Exp", ["t"], ["y"]),
        ],
        [tensor("x", (2, 8))],
        [tensor("y", (4, 4))],
        [shape],
    )


def test_a_reshape_shape_tensor_is_a_parameter_the_kernel_never_reads():
    ecg = _reshape_chain()
    b = boundary(ecg, [0, 1, 2])
    assert _names(b.inputs) == ["x"]
    assert _names(b.params) == ["shape"]
    assert _names(b.outputs) == ["y"]
    assert _names(b.internal) == ["r", "t"]
    # code generation gives pointers to exactly the boundary's inputs and outputs
    kernel = analyze_block(ecg, 0, [0, 1, 2], Names())
    assert _names(kernel.inputs) == ["x"]
    assert _names(kernel.outputs) == ["y"]
    # the constraint check counts what the kernel reads: one input fits a limit of one (it
    # counted the shape tensor too and refused "inputs 2 > 1" before the boundary was shared)
    assert check_constraints(ecg, {0, 1, 2}, Constraints(max_inputs=1)) is None
    assert check_constraints(ecg, {0, 1, 2}, Constraints(max_inputs=0)) == "inputs 1 > 0"
    # the cost model moves x's bytes, not the shape tensor's
    traffic = block_traffic(ecg, [0, 1, 2])
    assert traffic.input_bytes == 2 * 8 * 4
    assert traffic.output_bytes == 4 * 4 * 4
    # the plan report lists the parameter apart from the inputs
    _, fields = plan_ecg(ecg, constraints=Constraints(max_inputs=1))
    (block,) = fields["blocks"]
    assert (block.ops, block.inputs, block.params) == (["Relu", "Reshape", "Exp"], ["x"],
                                                       ["shape"])
    assert (block.outputs, block.removed, block.removed_bytes) == (["y"], ["r", "t"], 128)


def test_a_one_element_constant_is_inlined_unless_an_anchor_reads_it():
    half = numpy_helper.from_array(np.array([0.5], dtype=np.float32), "half")
    bias = numpy_helper.from_array(np.array([1.0], dtype=np.float32), "bias")
    ecg = make_ecg(
        [
            node("Mul", ["x", "half"], ["m"]),
            node("Gemm", ["m", "w", "bias"], ["g"]),
        ],
        [tensor("x", (2, 8))],
        [tensor("g", (2, 4))],
        [half, bias, weight("w", (8, 4))],
    )
    mul, gemm = boundary(ecg, [0]), boundary(ecg, [1])
    assert (_names(mul.inputs), _names(mul.params)) == (["x"], ["half"])  # a C literal
    assert (_names(gemm.inputs), _names(gemm.params)) == (["m", "w", "bias"], [])
    assert _names(gemm.weights) == ["w", "bias"]
    both = boundary(ecg, [0, 1])
    assert _names(both.inputs) == ["x", "w", "bias"]
    assert _names(both.params) == ["half"]
    assert _names(both.internal) == ["m"]
    assert _names(analyze_block(ecg, 0, [0, 1], Names()).inputs) == ["x", "w", "bias"]


def test_a_value_read_inside_and_outside_is_an_output_and_an_unread_one_is_internal():
    s = (2, 8)
    ecg = make_ecg(
        [
            node("Relu", ["x"], ["a"]),
            node("Split", ["a"], ["p", "q"], axis=0, num_outputs=2),
            node("Sigmoid", ["p"], ["b"]),
            node("Neg", ["a"], ["n"]),
        ],
        [tensor("x", s)],
        [tensor("b", (1, 8)), tensor("n", s)],
    )
    b = boundary(ecg, [0, 1, 2])  # Neg is outside: it reads a
    assert _names(b.inputs) == ["x"]
    assert _names(b.outputs) == ["a", "b"]
    assert _names(b.internal) == ["p", "q"]  # q is read by nobody: never written
    assert _names(boundary(ecg, [3]).inputs) == ["a"]


def test_a_constant_read_as_data_somewhere_is_an_input_even_if_also_a_parameter():
    # "s" is Reshape's shape and also data of the Add: the kernel reads it.
    s = numpy_helper.from_array(np.array([2, 8], dtype=np.int64), "s")
    ecg = make_ecg(
        [
            node("Reshape", ["x", "s"], ["r"]),
            node("Add", ["i", "s"], ["j"]),
        ],
        [tensor("x", (16,)), helper.make_tensor_value_info("i", TensorProto.INT64, [2])],
        [tensor("r", (2, 8)), helper.make_tensor_value_info("j", TensorProto.INT64, [2])],
        [s],
    )
    b = boundary(ecg, [0, 1])
    assert _names(b.inputs) == ["x", "i", "s"]
    assert _names(b.params) == []
    assert _names(boundary(ecg, [0]).params) == ["s"]
