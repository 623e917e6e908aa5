"""Structured mutations through the protobuf (``onnx.ModelProto``): the edits a hostile or
broken exporter makes that byte flips rarely reach.

Each mutator edits the model in place and returns a note; a mutator that does not apply (no
initializer to edit, say) returns ``None``. Some edits add files next to the model (external
data); those go to ``extra``.
"""

from __future__ import annotations

from collections.abc import Callable

import onnx
from onnx import TensorProto

from fuzz.choose import Chooser

HUGE = (2**31 - 1, 2**31, 2**32 + 1, 2**40, 2**62, 2**63 - 1)
ODD_DIMS = (0, -1, -2, 1, 7, *HUGE)
ODD_DTYPES = (0, 8, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 99, 2**20)
ODD_OPSETS = (0, 1, 6, 8, 9, 13, 21, 22, 23, 99, 2**31 - 1, -1)
OPS = ("Relu", "Conv", "Add", "MatMul", "Gemm", "Reshape", "Softmax", "Loop", "If", "Scan",
       "NonZero", "TopK", "Unique", "ConstantOfShape", "Range", "Einsum", "Shape", "Size",
       "QuantizeLinear", "Attention", "NoSuchOp", "", "Div", "Mod", "Cast", "Resize", "Pad",
       "Gather", "Slice", "Concat", "Split", "Transpose", "MaxPool", "LayerNormalization")
DOMAINS = ("", "ai.onnx", "ai.onnx.ml", "com.microsoft", "com.example", "ai.onnx.preview.training")
NAMES = ("", "nowhere", "../x", "x\ny", '*/ int evil; /*', '"); system("x', "\u00e9\u4e2d",
         "a" * 5000, "\\", "%s%n", "0bad", "x y")
LOCATIONS = ("../x", "/etc/passwd", "a/../../x", "weights.bin", "", ".", "./", "sub/w.bin",
             "w.bin\\..\\..\\x", "C:\\x", "~/x", "/dev/zero", "/proc/self/mem", "\u00e9.bin")
ODD_INTS = (0, 1, -1, 2, 3, -2**63, 2**63 - 1, 2**31, 1000000)
ODD_FLOATS = (0.0, -0.0, 1e38, -1e38, float("inf"), float("-inf"), float("nan"), 1e-45)


def _tensors(model: onnx.ModelProto) -> list[onnx.TensorProto]:
    out = list(model.graph.initializer)
    for node in model.graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.TENSOR:
                out.append(attr.t)
    return out


def _value_infos(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    g = model.graph
    return [*g.input, *g.output, *g.value_info]


def _tensor_bytes(t: onnx.TensorProto) -> bytes:
    if t.raw_data:
        return t.raw_data
    try:
        return onnx.numpy_helper.to_array(t).tobytes()
    except Exception:  # noqa: BLE001 - an already broken tensor: no data to move
        return b""


def edit_dims(ch: Chooser, m: onnx.ModelProto) -> str | None:
    targets: list = [vi.type.tensor_type.shape for vi in _value_infos(m)
                     if vi.type.tensor_type.HasField("shape")]
    tensors = _tensors(m)
    if tensors and ch.bool():
        t = ch.choice(tensors)
        if not t.dims or ch.int(0, 4) == 0:
            t.dims.append(ch.choice(ODD_DIMS))
            return f"tensor {t.name!r} dims += 1"
        i = ch.int(0, len(t.dims) - 1)
        t.dims[i] = ch.choice(ODD_DIMS)
        return f"tensor {t.name!r} dims[{i}]={t.dims[i]}"
    if not targets:
        return None
    shape = ch.choice(targets)
    if not shape.dim or ch.int(0, 5) == 0:
        d = shape.dim.add()
        d.dim_value = ch.choice(ODD_DIMS)
        return "value_info dim added"
    d = shape.dim[ch.int(0, len(shape.dim) - 1)]
    if ch.int(0, 3) == 0:
        d.dim_param = ch.choice(("N", "", "batch", "x" * 100))
        return f"dim_param {d.dim_param!r}"
    d.dim_value = ch.choice(ODD_DIMS)
    return f"dim_value {d.dim_value}"


def edit_dtype(ch: Chooser, m: onnx.ModelProto) -> str | None:
    value = ch.choice(ODD_DTYPES)
    tensors = _tensors(m)
    if tensors and ch.bool():
        t = ch.choice(tensors)
        t.data_type = value
        return f"tensor {t.name!r} data_type={value}"
    vis = _value_infos(m)
    if not vis:
        return None
    vi = ch.choice(vis)
    vi.type.tensor_type.elem_type = value
    return f"value_info {vi.name!r} elem_type={value}"


def edit_attribute(ch: Chooser, m: onnx.ModelProto) -> str | None:
    nodes = list(m.graph.node)
    if not nodes:
        return None
    node = ch.choice(nodes)
    k = ch.int(0, 5)
    if k == 0 or not node.attribute:
        a = node.attribute.add()
        a.name = ch.choice(("axis", "perm", "kernel_shape", "pads", "group", "strides", "to",
                            "mode", "bogus", "value", "dilations", "keepdims", "axes"))
        a.type = ch.choice((onnx.AttributeProto.INT, onnx.AttributeProto.INTS,
                            onnx.AttributeProto.FLOAT, onnx.AttributeProto.STRING))
        if a.type == onnx.AttributeProto.INT:
            a.i = ch.choice(ODD_INTS)
        elif a.type == onnx.AttributeProto.INTS:
            a.ints.extend(ch.choice(ODD_INTS) for _ in range(ch.int(0, 6)))
        elif a.type == onnx.AttributeProto.FLOAT:
            a.f = ch.choice(ODD_FLOATS)
        else:
            a.s = ch.choice((b"", b"constant", b"\xff\xfe", b"linear", b"x" * 300))
        return f"{node.op_type}: attribute {a.name!r} added"
    a = ch.choice(list(node.attribute))
    if k == 1:
        a.type = ch.choice((0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 99))
        return f"{node.op_type}.{a.name}: type={a.type}"
    if k == 2:
        node.attribute.remove(a)
        return f"{node.op_type}.{a.name}: removed"
    if k == 3:
        a.name = ch.choice(NAMES[:4] + ("axis", "pads", "alpha"))
        return f"{node.op_type}: attribute renamed {a.name!r}"
    if a.ints or a.type == onnx.AttributeProto.INTS:
        if a.ints and ch.bool():
            a.ints[ch.int(0, len(a.ints) - 1)] = ch.choice(ODD_INTS)
        else:
            a.ints.append(ch.choice(ODD_INTS))
        return f"{node.op_type}.{a.name}: ints={list(a.ints)[:8]}"
    if a.type == onnx.AttributeProto.FLOAT:
        a.f = ch.choice(ODD_FLOATS)
        return f"{node.op_type}.{a.name}: f={a.f}"
    if a.type == onnx.AttributeProto.STRING:
        a.s = ch.choice((b"", b"\xff", b"reflect", b"edge", b"cubic", b"SAME_UPPER", b"NOTSET"))
        return f"{node.op_type}.{a.name}: s={a.s!r}"
    a.i = ch.choice(ODD_INTS)
    return f"{node.op_type}.{a.name}: i={a.i}"


def edit_op(ch: Chooser, m: onnx.ModelProto) -> str | None:
    nodes = list(m.graph.node)
    if not nodes:
        return None
    node = ch.choice(nodes)
    if ch.int(0, 2) == 0:
        node.domain = ch.choice(DOMAINS)
        return f"{node.op_type}: domain={node.domain!r}"
    old, node.op_type = node.op_type, ch.choice(OPS)
    return f"op {old} -> {node.op_type}"


def edit_opset(ch: Chooser, m: onnx.ModelProto) -> str | None:
    k = ch.int(0, 4)
    if k == 0:
        m.ir_version = ch.choice((0, 1, 3, 7, 10, 11, 14, 99, 2**62))
        return f"ir_version={m.ir_version}"
    if k == 1 or not m.opset_import:
        imp = m.opset_import.add()
        imp.domain, imp.version = ch.choice(DOMAINS), ch.choice(ODD_OPSETS)
        return f"opset_import += {imp.domain!r}:{imp.version}"
    if k == 2:
        del m.opset_import[:]
        return "opset_import cleared"
    imp = ch.choice(list(m.opset_import))
    imp.version = ch.choice(ODD_OPSETS)
    return f"opset {imp.domain!r} -> {imp.version}"


def edit_names(ch: Chooser, m: onnx.ModelProto) -> str | None:
    """Dangling, duplicate, cyclic and hostile tensor names."""
    nodes = list(m.graph.node)
    if not nodes:
        return None
    node = ch.choice(nodes)
    k = ch.int(0, 6)
    if k == 0 and node.input:
        i = ch.int(0, len(node.input) - 1)
        node.input[i] = ch.choice(NAMES)
        return f"{node.op_type}.input[{i}]={node.input[i][:20]!r}"
    if k == 1 and len(nodes) > 1:  # duplicate output name
        other = ch.choice(nodes)
        if other.output and node.output:
            node.output[0] = other.output[0]
            return f"duplicate output {other.output[0]!r}"
    if k == 2 and node.input:  # cycle: read the last node's output
        last = nodes[-1]
        if last.output:
            node.input[0] = last.output[ch.int(0, len(last.output) - 1)]
            return f"cycle through {node.input[0]!r}"
    if k == 3 and node.output:
        old = node.output[0]
        node.output[0] = ch.choice(NAMES)
        for vi in m.graph.output:
            if vi.name == old and ch.bool():
                vi.name = node.output[0]
        return f"output renamed {node.output[0][:20]!r}"
    if k == 4:
        if m.graph.input:
            m.graph.input.append(m.graph.input[0])
            return "duplicate graph input"
        return None
    if k == 5 and m.graph.output:
        del m.graph.output[ch.int(0, len(m.graph.output) - 1)]
        return "graph output removed"
    m.graph.node.remove(node)
    return f"node {node.op_type} removed"


def edit_external_data(ch: Chooser, m: onnx.ModelProto, extra: dict[str, bytes]) -> str | None:
    tensors = list(m.graph.initializer)
    if not tensors:
        return None
    t = ch.choice(tensors)
    if t.data_location != TensorProto.EXTERNAL or ch.int(0, 3) == 0:
        data = _tensor_bytes(t)
        t.ClearField("raw_data")
        for f in ("float_data", "int32_data", "int64_data", "double_data", "string_data"):
            t.ClearField(f)
        t.data_location = TensorProto.EXTERNAL
        del t.external_data[:]
        loc = ch.choice(LOCATIONS)
        for key, value in (("location", loc), ("offset", "0"), ("length", str(len(data)))):
            e = t.external_data.add()
            e.key, e.value = key, value
        if loc == "weights.bin" or ch.bool():
            extra["weights.bin"] = extra.get("weights.bin", b"") + data
        return f"{t.name!r} -> external {loc!r}"
    k = ch.int(0, 3)
    if k == 0 or not t.external_data:
        e = t.external_data.add()
        e.key = ch.choice(("location", "offset", "length", "checksum", "bogus", ""))
        e.value = ch.choice(("../x", "-1", str(2**63), "1e9", "abc", "", "0x10"))
        return f"external entry {e.key}={e.value!r}"
    e = ch.choice(list(t.external_data))
    if e.key == "location" or k == 1:
        e.value = ch.choice(LOCATIONS)
    else:
        e.value = ch.choice(("-1", "0", str(2**31), str(2**40), str(2**64), "7", "abc", " 1"))
    return f"external {e.key}={e.value!r}"


def edit_raw_data(ch: Chooser, m: onnx.ModelProto) -> str | None:
    tensors = [t for t in _tensors(m) if t.data_location != TensorProto.EXTERNAL]
    if not tensors:
        return None
    t = ch.choice(tensors)
    raw = t.raw_data
    k = ch.int(0, 3)
    if k == 0:
        t.raw_data = raw[: ch.int(0, max(0, len(raw) - 1))]
    elif k == 1:
        t.raw_data = raw + bytes(ch.int(1, 9))
    elif k == 2:
        t.raw_data = b""
        t.float_data.extend([1.0] * ch.int(0, 5))
    else:
        t.ClearField("raw_data")
        t.int64_data.extend([2**62, -1, 0][: ch.int(0, 3)])
    return f"{t.name!r} data edited ({k})"


def edit_graph(ch: Chooser, m: onnx.ModelProto) -> str | None:
    """Whole-graph edits: empty graph, Constant with a huge claimed shape, a sub-graph."""
    k = ch.int(0, 3)
    if k == 0:
        del m.graph.node[:]
        return "all nodes removed"
    if k == 1:
        t = onnx.TensorProto(name="c", data_type=TensorProto.FLOAT, dims=[ch.choice(HUGE)],
                             raw_data=b"\0" * 4 * ch.int(0, 2))  # claims far more than it holds
        m.graph.node.insert(0, onnx.helper.make_node("Constant", [], ["huge_c"], value=t))
        m.graph.output.append(onnx.helper.make_tensor_value_info("huge_c", TensorProto.FLOAT, None))
        return "Constant with a huge claimed shape"
    if k == 2:
        t = onnx.helper.make_tensor("s", TensorProto.INT64, [2], [ch.choice(HUGE), 4])
        m.graph.node.insert(0, onnx.helper.make_node("ConstantOfShape", ["huge_s"], ["huge_z"]))
        m.graph.node.insert(0, onnx.helper.make_node("Constant", [], ["huge_s"], value=t))
        m.graph.output.append(onnx.helper.make_tensor_value_info("huge_z", TensorProto.FLOAT, None))
        return "ConstantOfShape of a huge shape"
    g = onnx.helper.make_graph([], "empty", [], [])
    if m.graph.node:
        node = m.graph.node[0]
        node.attribute.append(onnx.helper.make_attribute("then_branch", g))
        return "graph attribute added"
    return None


ProtoMutator = Callable[..., "str | None"]
PROTO_MUTATORS: tuple = (edit_dims, edit_dtype, edit_attribute, edit_op, edit_opset, edit_names,
                         edit_external_data, edit_raw_data, edit_graph)


def mutate_proto(ch: Chooser, data: bytes, extra: dict[str, bytes]) -> tuple[bytes, str] | None:
    """Parse ``data`` and apply one to three field edits; ``None`` when it does not parse."""
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except Exception:  # noqa: BLE001 - not a protobuf: leave it to the byte mutators
        return None
    notes = []
    for _ in range(ch.int(1, 3)):
        fn = ch.choice(PROTO_MUTATORS)
        try:
            note = fn(ch, model, extra) if fn is edit_external_data else fn(ch, model)
        except (ValueError, TypeError, OverflowError, IndexError) as err:
            note = f"{fn.__name__} not applied ({type(err).__name__})"
        if note:
            notes.append(note)
    try:
        return model.SerializeToString(), "; ".join(notes)
    except Exception as err:  # noqa: BLE001 - an edit the protobuf library will not write
        return None if not notes else (data, f"unserializable ({type(err).__name__})")
