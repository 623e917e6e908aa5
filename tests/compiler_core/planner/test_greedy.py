"""Listing 1 on small graphs: each test states the blocks the plan must give."""

from onnx import helper

from compiler_core.ir.mapping import MappingType
from compiler_core.planner.constraints import Constraints
from compiler_core.planner.cost import Profitability
from compiler_core.planner.run import plan_ecg
from tests.compiler_core.planner.graphs import make_ecg, node, tensor, weight


def blocks_of(fields):
    return [b.nodes for b in fields["blocks"]]


def edge_reasons(fields):
    return {(e.producer, e.consumer): e.reason for e in fields["unfused_edges"]}


def _fig3_ecg():
    s = (1, 4, 8, 8)
    return make_ecg(
        [
            node("MatMul", ["x", "w"], ["mm"]),
            node("Add", ["mm", "y"], ["add"]),
            node("Conv", ["add", "k"], ["conv"], pads=[1, 1, 1, 1]),
            node("Relu", ["conv"], ["relu"]),
            node("Mul", ["relu", "z"], ["mul"]),
            node("Sub", ["mul", "z"], ["sub"]),
        ],
        [tensor("x", s), tensor("y", s), tensor("z", s)],
        [tensor("sub", s)],
        [weight("w", (8, 8)), weight("k", (4, 4, 3, 3))],
    )


def test_paper_fig3_block_refuses_gemm_predecessor():
    # MatMul -> Add -> Conv -> Relu -> Mul -> Sub in the paper's order (successors first): the
    # seed Add grows over Conv, so the block {Add, Conv, Relu, Mul, Sub} is Many-to-Many and
    # refuses the MatMul (M2M -> M2M), although MatMul -> Add alone would fuse.
    _, fields = plan_ecg(_fig3_ecg(), prefer_epilogue=False)
    assert blocks_of(fields) == [["mm"], ["add", "conv", "relu", "mul", "sub"]]
    assert [b.mapping_type for b in fields["blocks"]] == ["Many-to-Many"] * 2
    assert edge_reasons(fields) == {("mm", "add"): "never_pair"}
    assert fields["blocks"][1].removed == ["add", "conv", "relu", "mul"]


def test_prefer_epilogue_gives_the_add_to_its_producer():
    # Default [ours]: the seed Add tries its predecessor before its Many-to-Many consumer, so
    # it becomes the MatMul's epilogue; the Conv then seeds {Conv, Relu, Mul, Sub} by itself
    # (through the seed Relu). Same number of blocks, no prologue before the Conv.
    _, fields = plan_ecg(_fig3_ecg())
    assert blocks_of(fields) == [["mm", "add"], ["conv", "relu", "mul", "sub"]]
    assert [b.mapping_type for b in fields["blocks"]] == ["Many-to-Many"] * 2
    assert edge_reasons(fields) == {("add", "conv"): "never_pair"}


def _residual_ecg():
    # A ResNet bottleneck's end: r = Relu(Conv1(x) + Conv2(x)) is read by Conv3 and by the
    # next residual Add; Conv3 -> Relu3 writes 8x less than r, so Relu3 seeds first.
    s = (1, 16, 8, 8)
    return make_ecg(
        [
            node("Conv", ["x", "k1"], ["c1"]),
            node("Conv", ["x", "k2"], ["c2"]),
            node("Add", ["c1", "c2"], ["sum"]),
            node("Relu", ["sum"], ["r"]),
            node("Conv", ["r", "k3"], ["c3"]),
            node("Relu", ["c3"], ["r3"]),
            node("Conv", ["r3", "k4"], ["c4"]),
            node("Add", ["c4", "r"], ["out"]),
        ],
        [tensor("x", s)],
        [tensor("out", s)],
        [weight("k1", (16, 16, 1, 1)), weight("k2", (16, 16, 1, 1)),
         weight("k3", (2, 16, 1, 1)), weight("k4", (16, 2, 1, 1))],
    )


def test_prefer_epilogue_leaves_an_escaping_prologue_to_its_producer():
    # [ours] The Relu3 seed takes Conv3 (epilogue), but not Relu(sum) as Conv3's prologue:
    # r is read by the last Add too, so it is written either way. The Add seed then takes
    # Conv1 as its producer: 4 blocks, Conv, Conv+Add+Relu, Conv+Relu, Conv+Add.
    _, fields = plan_ecg(_residual_ecg())
    assert blocks_of(fields) == [["c2"], ["c1", "sum", "r"], ["c3", "r3"], ["c4", "out"]]
    assert edge_reasons(fields) == {
        ("c2", "sum"): "never_pair", ("r", "c3"): "never_pair", ("r", "out"): "never_pair",
        ("r3", "c4"): "never_pair"}


def test_paper_order_puts_the_residual_relu_before_the_next_conv():
    # The paper's order on the same graph: the seed Relu3 takes its successor Conv4 first (and
    # the last Add), the seed Add grows over Relu and Conv3 as its prologue; Conv1 and Conv2
    # stay alone (M2M -> M2M). Same block count, but Relu(sum) is a prologue.
    _, fields = plan_ecg(_residual_ecg(), prefer_epilogue=False)
    assert blocks_of(fields) == [["c1"], ["c2"], ["sum", "r", "c3"], ["r3", "c4", "out"]]


def test_prefer_epilogue_leaves_a_chain_to_the_conv_before_it():
    # Conv1 -> Relu1 -> Conv2 -> Relu2 (Relu2 writes less: it seeds first). Relu1 is read
    # only by Conv2, but Conv1 before it is unfused and takes it as its epilogue.
    ecg = make_ecg(
        [
            node("Conv", ["x", "k1"], ["c1"]),
            node("Relu", ["c1"], ["r1"]),
            node("Conv", ["r1", "k2"], ["c2"], strides=[2, 2]),
            node("Relu", ["c2"], ["r2"]),
        ],
        [tensor("x", (1, 8, 8, 8))],
        [tensor("r2", (1, 8, 4, 4))],
        [weight("k1", (8, 8, 1, 1)), weight("k2", (8, 8, 1, 1))],
    )
    _, fields = plan_ecg(ecg)
    assert blocks_of(fields) == [["c1", "r1"], ["c2", "r2"]]
    _, fields = plan_ecg(ecg, prefer_epilogue=False)
    assert blocks_of(fields) == [["c1"], ["r1", "c2", "r2"]]


def test_seed_is_smallest_intermediate_result():
    # Paper's order. Sigmoid writes 32 bytes, Relu 4 KiB: Sigmoid seeds first and takes
    # MatMul2 and Tanh. Seeding in topological order instead would give {Relu, MatMul1,
    # Sigmoid}, {MatMul2, Tanh} (which is also what prefer_epilogue gives: Sigmoid joins MatMul1).
    ecg = make_ecg(
        [
            node("Relu", ["x"], ["a"]),
            node("MatMul", ["a", "w1"], ["m1"]),
            node("Sigmoid", ["m1"], ["s"]),
            node("MatMul", ["s", "w2"], ["m2"]),
            node("Tanh", ["m2"], ["t"]),
        ],
        [tensor("x", (1, 1024))],
        [tensor("t", (1, 1024))],
        [weight("w1", (1024, 8)), weight("w2", (8, 1024))],
    )
    planner, fields = plan_ecg(ecg, prefer_epilogue=False)
    assert blocks_of(fields) == [["a", "m1"], ["s", "m2", "t"]]
    assert edge_reasons(fields) == {("m1", "s"): "never_pair"}
    assert planner.stats.seeds == 2


def test_path_through_opaque_block_is_not_convex():
    # a = Relu(x); c = Opaque(a); out = Add(a, c). Fusing Relu with Add would make a cycle
    # between kernels through the Opaque one.
    s = (2, 3)
    ecg = make_ecg(
        [
            node("Relu", ["x"], ["a"]),
            helper.make_node("Mystery", ["a"], ["c"], name="c", domain="test.opaque"),
            node("Add", ["a", "c"], ["out"]),
        ],
        [tensor("x", s)],
        [tensor("out", s)],
        value_info=[tensor("a", s), tensor("c", s)],
        infer=False,
    )
    assert ecg.info[1].mapping_type is MappingType.OPAQUE
    _, fields = plan_ecg(ecg)
    assert blocks_of(fields) == [["a"], ["c"], ["out"]]
    assert edge_reasons(fields) == {
        ("a", "c"): "opaque",
        ("a", "out"): "not_convex",
        ("c", "out"): "opaque",
    }


def test_constraint_splits_a_long_chain():
    # 20 Adds, each reading one more graph input: a block of k Adds reads k + 1 tensors.
    n = 20
    nodes = [node("Add", ["x0", "x1"], ["s1"])]
    nodes += [node("Add", [f"s{i}", f"x{i + 1}"], [f"s{i + 1}"]) for i in range(1, n)]
    ecg = make_ecg(nodes, [tensor(f"x{i}", (4,)) for i in range(n + 1)], [tensor(f"s{n}", (4,))])
    _, fields = plan_ecg(ecg, constraints=Constraints(max_inputs=8))
    assert [len(b) for b in blocks_of(fields)] == [7, 7, 6]
    assert all(len(b.inputs) <= 8 for b in fields["blocks"])
    reasons = {(e.producer, e.consumer): (e.reason, e.detail) for e in fields["unfused_edges"]}
    # The reason is for merging the two whole blocks: x0..x14 (15 tensors), then s7 + x8..x20.
    assert reasons == {
        ("s7", "s8"): ("constraint", "inputs 15 > 8"),
        ("s14", "s15"): ("constraint", "inputs 14 > 8"),
    }


class _Fixed:
    """A cost model with fixed answers, recording what it was asked."""

    name = "fixed"

    def __init__(self, fused_us, separate_us):
        self.fused_us, self.separate_us, self.calls = fused_us, separate_us, 0

    def profitability(self, ecg, first, second):
        self.calls += 1
        return Profitability(self.fused_us, self.separate_us, self.name)


def test_profile_cell_asks_the_cost_model():
    import numpy as np
    from onnx import numpy_helper

    ecg = make_ecg(
        [
            node("MatMul", ["x", "w"], ["mm"]),
            node("Relu", ["mm"], ["r"]),
            node("Reshape", ["r", "shape"], ["out"]),
        ],
        [tensor("x", (4, 8))],
        [tensor("out", (32,))],
        [weight("w", (8, 8)), numpy_helper.from_array(np.array([32], np.int64), "shape")],
    )
    # Relu seeds and takes its successor first (O2O -> Reorganize: green), so the block is
    # Reorganize; its predecessor MatMul is then a "profile" cell (M2M -> Reorganize).
    slower = _Fixed(fused_us=10.0, separate_us=5.0)
    _, fields = plan_ecg(ecg, cost_model=slower)
    assert blocks_of(fields) == [["mm"], ["r", "out"]]
    assert [b.mapping_type for b in fields["blocks"]] == ["Many-to-Many", "Reorganize"]
    (edge,) = fields["unfused_edges"]
    assert (edge.reason, edge.fused_us, edge.separate_us) == ("unprofitable", 10.0, 5.0)
    assert slower.calls >= 1

    faster = _Fixed(fused_us=5.0, separate_us=10.0)
    planner, fields = plan_ecg(ecg, cost_model=faster)
    assert blocks_of(fields) == [["mm", "r", "out"]]
    assert fields["blocks"][0].mapping_type == "Many-to-Many"
    assert planner.stats.profiled == planner.stats.profiled_fused == 1


def test_multi_output_block_keeps_intermediate_read_outside():
    s = (2, 8)
    ecg = make_ecg(
        [node("Relu", ["x"], ["a"]), node("Sigmoid", ["a"], ["b"]), node("Exp", ["b"], ["c"])],
        [tensor("x", s)],
        [tensor("a", s), tensor("c", s)],
    )
    _, fields = plan_ecg(ecg)
    (block,) = fields["blocks"]
    assert block.nodes == ["a", "b", "c"]
    assert block.outputs == ["a", "c"]
    assert block.removed == ["b"]
    assert block.removed_bytes == 2 * 8 * 4


def test_broadcast_of_computed_tensor_is_one_to_many_but_constant_is_not():
    ecg = make_ecg(
        [node("Add", ["x", "y"], ["a"]), node("Add", ["a", "bias"], ["b"])],
        [tensor("x", (2, 8)), tensor("y", (8,))],
        [tensor("b", (2, 8))],
        [weight("bias", (8,))],
    )
    assert [i.mapping_type for i in ecg.info] == [
        MappingType.ONE_TO_MANY,
        MappingType.ONE_TO_ONE,
    ]
