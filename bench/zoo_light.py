"""The onnx package's light_* graphs, and their random-weight variants.

The light graphs (ResNet-50, DenseNet-121, ...) ship with every weight produced by a
`ConstantOfShape` node filled with 0.02. That is fine for fusion counts and timing, but a numerical
test on constant weights cannot see a wrong index. `randomize_weights` replaces every
ConstantOfShape weight by a random initializer of the same shape, scaled by the role the weight
plays (conv/gemm fan-in scaling, BatchNormalization variance > 0, ...) so that activations stay
finite through 50+ layers. Only weights change: every compute node stays as it was.
"""

from __future__ import annotations

import os

import numpy as np
import onnx
from onnx import numpy_helper

from bench.modelutil import initializer_names

LIGHT_NAMES = (
    "resnet50",
    "densenet121",
    "inception_v1",
    "inception_v2",
    "shufflenet",
    "squeezenet",
)

# The one real (non-initializer) input of each graph; all take 1x3x224x224 float32.
LIGHT_INPUT_NAMES = {
    "resnet50": "gpu_0/data_0",
    "densenet121": "data_0",
    "inception_v1": "data_0",
    "inception_v2": "data_0",
    "shufflenet": "gpu_0/data_0",
    "squeezenet": "data_0",
}

# Bump when randomize_weights changes what it writes: cached builds are redone.
RANDOM_RECIPE = "light-random-v3-bncalib"

# Ops a weight may pass through unchanged on its way to the op that gives it its role.
_PASS_THROUGH = {"Unsqueeze", "Squeeze", "Reshape", "Flatten", "Identity", "Cast"}


def light_path(name: str) -> str:
    """Path of the graph shipped inside the installed onnx package."""
    return os.path.join(
        os.path.dirname(onnx.__file__), "backend", "test", "data", "light", f"light_{name}.onnx"
    )


def _constant_value(graph: onnx.GraphProto, name: str) -> np.ndarray | None:
    """The value of `name` if it is an initializer or the output of a Constant node."""
    for t in graph.initializer:
        if t.name == name:
            return numpy_helper.to_array(t)
    for n in graph.node:
        if n.op_type == "Constant" and n.output[0] == name:
            for a in n.attribute:
                if a.name == "value":
                    return numpy_helper.to_array(a.t)
    return None


def _inferred_shape(inferred: onnx.ModelProto, name: str) -> tuple[int, ...] | None:
    g = inferred.graph
    for vi in list(g.value_info) + list(g.output) + list(g.input):
        if vi.name == name and vi.type.tensor_type.HasField("shape"):
            dims = vi.type.tensor_type.shape.dim
            if all(d.HasField("dim_value") for d in dims):
                return tuple(d.dim_value for d in dims)
    return None


def _role(graph: onnx.GraphProto, name: str) -> tuple[onnx.NodeProto | None, int]:
    """The first consumer of `name` (looking through pass-through ops) and the input index."""
    consumers: dict[str, list[tuple[onnx.NodeProto, int]]] = {}
    for n in graph.node:
        for i, x in enumerate(n.input):
            consumers.setdefault(x, []).append((n, i))
    seen = set()
    while name not in seen:
        seen.add(name)
        uses = consumers.get(name, [])
        if not uses:
            return None, -1
        node, idx = uses[0]
        if node.op_type in _PASS_THROUGH and idx == 0:
            name = node.output[0]
            continue
        return node, idx
    return None, -1


def _attr(node: onnx.NodeProto, key: str, default: int) -> int:
    for a in node.attribute:
        if a.name == key:
            return int(onnx.helper.get_attribute_value(a))
    return default


def _random_weight(
    rng: np.random.Generator, shape: tuple[int, ...], node: onnx.NodeProto | None, idx: int
) -> np.ndarray:
    """A random weight for input `idx` of `node`, scaled so activations stay finite."""
    normal = rng.standard_normal(shape).astype(np.float32)
    op = node.op_type if node is not None else ""
    if op in ("Conv", "ConvTranspose") and idx == 1 and len(shape) >= 2:
        fan_in = int(np.prod(shape[1:]))  # (C/group) * kh * kw
        return normal * np.float32(np.sqrt(2.0 / fan_in))  # He: keeps ReLU stacks at scale 1
    if op in ("Gemm", "MatMul") and idx == 1 and len(shape) == 2:
        fan_in = shape[1] if (op == "Gemm" and _attr(node, "transB", 0)) else shape[0]
        return normal * np.float32(np.sqrt(1.0 / fan_in))
    if op == "BatchNormalization":
        if idx == 1:  # scale
            return np.float32(1.0) + np.float32(0.1) * normal
        if idx == 4:  # variance: strictly positive
            return rng.uniform(0.5, 1.5, size=shape).astype(np.float32)
        return np.float32(0.1) * normal  # bias, mean
    if op == "Mul":  # a per-channel scale (Caffe2 "Scale" layers)
        return np.float32(1.0) + np.float32(0.1) * normal
    if op in ("Add", "Sum", "Sub"):  # a per-channel shift
        return np.float32(0.1) * normal
    return np.float32(0.05) * normal  # biases and anything else


def randomize_weights(model: onnx.ModelProto, seed: int = 0) -> onnx.ModelProto:
    """Replace each ConstantOfShape weight with a random initializer of the same shape.

    The shape is evaluated from the node's (constant) shape input and checked against ONNX shape
    inference. Shape tensors left unused are dropped. The IR version and the model's convention
    for initializers (IR < 4 lists them as graph inputs too) are kept.
    """
    out = onnx.ModelProto()
    out.CopyFrom(model)
    g = out.graph
    inferred = onnx.shape_inference.infer_shapes(out)
    rng = np.random.default_rng(seed)
    inits_as_inputs = out.ir_version < 4 or bool(initializer_names(g) & {i.name for i in g.input})

    keep: list[onnx.NodeProto] = []
    new_inits: list[onnx.TensorProto] = []
    for node in g.node:
        if node.op_type != "ConstantOfShape":
            keep.append(node)
            continue
        shape_value = _constant_value(g, node.input[0])
        inferred_shape = _inferred_shape(inferred, node.output[0])
        if shape_value is None:
            if inferred_shape is None:
                raise ValueError(f"cannot evaluate the shape of {node.output[0]!r}")
            shape = inferred_shape
        else:
            shape = tuple(int(d) for d in shape_value.reshape(-1))
            if inferred_shape is not None and inferred_shape != shape:
                raise ValueError(f"{node.output[0]!r}: shape {shape} != inferred {inferred_shape}")
        consumer, idx = _role(g, node.output[0])
        value = _random_weight(rng, shape, consumer, idx)
        new_inits.append(numpy_helper.from_array(value, node.output[0]))

    del g.node[:]
    g.node.extend(keep)

    # Drop shape tensors nothing reads any more (initializers and their input mirrors).
    used = {x for n in g.node for x in n.input} | {o.name for o in g.output}
    dead = {t.name for t in g.initializer if t.name not in used}
    kept_inits = [t for t in g.initializer if t.name not in dead]
    del g.initializer[:]
    g.initializer.extend(kept_inits + new_inits)
    kept_inputs = [i for i in g.input if i.name not in dead]
    del g.input[:]
    g.input.extend(kept_inputs)
    if inits_as_inputs:
        listed = {i.name for i in g.input}
        for t in new_inits:
            if t.name not in listed:
                g.input.append(onnx.helper.make_tensor_value_info(t.name, t.data_type, t.dims))
    new_names = {t.name for t in new_inits}
    kept_vi = [vi for vi in g.value_info if vi.name not in new_names]
    del g.value_info[:]
    g.value_info.extend(kept_vi)
    return out


def _bn_levels(graph: onnx.GraphProto, bns: list[onnx.NodeProto]) -> dict[int, int]:
    """For each BN (by id), how many BNs lie on the longest path from the inputs to it."""
    depth: dict[str, int] = {}
    level: dict[int, int] = {}
    wanted = {id(n) for n in bns}
    for node in graph.node:  # the light graphs are topologically sorted
        d = max((depth.get(x, 0) for x in node.input), default=0)
        if id(node) in wanted:
            level[id(node)] = depth.get(node.input[0], 0)
        if node.op_type == "BatchNormalization":
            d = max(d, depth.get(node.input[0], 0) + 1)
        for y in node.output:
            depth[y] = d
    return level


def calibrate_batchnorm(
    model: onnx.ModelProto, input_shapes: dict[str, tuple[int, ...]], seed: int = 0
) -> onnx.ModelProto:
    """Set each BatchNormalization's mean/variance to the statistics its input actually has.

    Random weights with fixed random BN statistics make residual networks' activations double
    per block (ResNet-50's logits reach the thousands and its softmax is one-hot). Trained BN
    statistics normalize; this does the same for N(0, 1) inputs, like data-dependent init.
    A BN's statistics depend on the BNs upstream, so BNs are calibrated level by level (one
    ONNX Runtime run per level, the mean/variance tensors fed as overridable inputs).
    """
    import onnxruntime as ort

    g = model.graph
    inits = {t.name: t for t in g.initializer}
    readers: dict[str, int] = {}
    for n in g.node:
        for x in n.input:
            readers[x] = readers.get(x, 0) + 1
    bns = [
        n
        for n in g.node
        if n.op_type == "BatchNormalization"
        and all(n.input[k] in inits and readers[n.input[k]] == 1 for k in (3, 4))
    ]
    if not bns:
        return model
    stats = {n.input[k]: numpy_helper.to_array(inits[n.input[k]]) for n in bns for k in (3, 4)}

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    probe.ir_version = max(probe.ir_version, 7)  # IR >= 4: initializers listed as inputs are
    listed = {i.name for i in probe.graph.input}  # overridable, so we can feed the statistics
    for name, value in stats.items():
        if name not in listed:
            probe.graph.input.append(
                onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, value.shape)
            )
    outputs = {o.name for o in probe.graph.output}
    for n in bns:
        if n.input[0] not in outputs:
            probe.graph.output.append(
                onnx.helper.make_tensor_value_info(n.input[0], onnx.TensorProto.FLOAT, None)
            )
            outputs.add(n.input[0])
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # deterministic statistics
    options.log_severity_level = 3  # the probe's inputs shadow initializers on purpose
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(
        probe.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    rng = np.random.default_rng(seed)
    feeds = {k: rng.standard_normal(s).astype(np.float32) for k, s in input_shapes.items()}
    levels = _bn_levels(g, bns)
    for lvl in sorted(set(levels.values())):
        group = [n for n in bns if levels[id(n)] == lvl]
        values = session.run([n.input[0] for n in group], {**feeds, **stats})
        for n, x in zip(group, values, strict=True):
            axes = (0, *range(2, x.ndim))
            stats[n.input[3]] = x.mean(axis=axes).astype(np.float32)
            stats[n.input[4]] = np.maximum(x.var(axis=axes), 1e-4).astype(np.float32)

    out = onnx.ModelProto()
    out.CopyFrom(model)
    for t in out.graph.initializer:
        if t.name in stats:
            t.CopyFrom(numpy_helper.from_array(stats[t.name], t.name))
    return out


def build_light_random(name: str, seed: int = 0) -> onnx.ModelProto:
    """light_<name> with random weights (the zoo saves and caches it)."""
    model = onnx.load(light_path(name))
    randomized = randomize_weights(model, seed=seed)
    randomized = calibrate_batchnorm(
        randomized, {LIGHT_INPUT_NAMES[name]: (1, 3, 224, 224)}, seed=seed
    )
    onnx.checker.check_model(randomized)
    return randomized
