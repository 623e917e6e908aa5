"""The seed corpus: small real ONNX models the mutation fuzzer starts from.

Committed under ``fuzz/corpus/seeds/`` (``python -m fuzz seeds`` rebuilds it):

* ``light_*.onnx``: graphs of real networks shipped inside the ``onnx`` package
  (``onnx/backend/test/data/light``; weights made by ``ConstantOfShape``),
* ``node_*.onnx``: one ONNX backend node-test model per operator the compiler supports
  (``onnx.backend.test.case.node``, built in memory by the ``onnx`` package),
* ``built_*.onnx`` and ``built_external/``: small graphs built here with random initializers
  (a conv net, a transformer block, indexing ops, integer ops, external weights).

The real PP-OCR classifier (``ppocr_mobile_v2_cls.onnx``, 585 KB) is a seed too when an intact
copy is found (:mod:`bench.real_models`: ``models/`` in the repository); it is not copied here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper, numpy_helper

from fuzz.case import ROOT, Case

SEEDS = ROOT / "corpus" / "seeds"
LIGHT = ("bvlc_alexnet", "zfnet512", "vgg19", "squeezenet", "inception_v1")
PPOCR_CLS = "ppocr_mobile_v2_cls.onnx"
PPOCR_CLS_SHAPES = {"x": (1, 3, 48, 192)}
NODE_TEST_MAX_BYTES = 4096


def find_real_model(name: str) -> Path | None:
    """An intact copy of ``name`` (``models/`` in the repository, ``$DNNFUSION_MODELS_DIR`` or
    the shared folder; see :mod:`bench.real_models`), else None."""
    from bench.real_models import RealModelMissing, real_model_path

    try:
        return real_model_path(name)
    except RealModelMissing:
        return None


def load_seeds(*, real: bool = True) -> list[Case]:
    """Every committed seed as a :class:`Case` (plus the PP-OCR classifier when ``real``)."""
    cases = [Case(main=p.read_bytes(), origin=p.stem) for p in sorted(SEEDS.glob("*.onnx"))]
    for d in sorted(p for p in SEEDS.iterdir() if p.is_dir()):
        extra = {f.name: f.read_bytes() for f in sorted(d.iterdir()) if f.name != "model.onnx"}
        cases.append(Case(main=(d / "model.onnx").read_bytes(), extra=extra, origin=d.name))
    if real and (path := find_real_model(PPOCR_CLS)) is not None:
        cases.append(Case(main=path.read_bytes(), shapes=dict(PPOCR_CLS_SHAPES), origin="ppocr_cls"))
    if not cases:
        raise FileNotFoundError(f"no seeds under {SEEDS}; run: python -m fuzz seeds")
    return cases


# ---- building the committed corpus -------------------------------------------------------


def _init(rng: np.random.Generator, name: str, shape, dtype=np.float32) -> onnx.TensorProto:
    if np.dtype(dtype).kind == "f":
        return numpy_helper.from_array(rng.standard_normal(shape).astype(dtype) * 0.1, name)
    return numpy_helper.from_array(np.asarray(shape, dtype=dtype), name)


def _model(nodes, name, inputs, outputs, inits=(), opset=17) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, name, inputs, outputs, list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)
    onnx.checker.check_model(model, full_check=True)
    return model


def _vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def built_models() -> dict[str, onnx.ModelProto]:
    rng = np.random.default_rng(0)
    f = T.FLOAT
    out: dict[str, onnx.ModelProto] = {}
    out["built_convnet"] = _model(
        [
            helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
            helper.make_node("BatchNormalization", ["c1", "s", "o", "m", "v"], ["n1"]),
            helper.make_node("Relu", ["n1"], ["r1"]),
            helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
            helper.make_node("Conv", ["p1", "w2"], ["c2"], group=8, kernel_shape=[3, 3],
                             pads=[1, 1, 1, 1]),
            helper.make_node("HardSwish", ["c2"], ["h2"]),
            helper.make_node("GlobalAveragePool", ["h2"], ["g"]),
            helper.make_node("Flatten", ["g"], ["fl"]),
            helper.make_node("Gemm", ["fl", "wf", "bf"], ["logits"], transB=1),
            helper.make_node("Softmax", ["logits"], ["y"], axis=1),
        ],
        "convnet",
        [_vi("x", f, [1, 3, 16, 16])],
        [_vi("y", f, [1, 4])],
        [
            _init(rng, "w1", (8, 3, 3, 3)), _init(rng, "b1", (8,)), _init(rng, "s", (8,)),
            _init(rng, "o", (8,)), _init(rng, "m", (8,)),
            numpy_helper.from_array(np.ones(8, np.float32), "v"),
            _init(rng, "w2", (8, 1, 3, 3)), _init(rng, "wf", (4, 8)), _init(rng, "bf", (4,)),
        ],
    )
    out["built_transformer"] = _model(
        [
            helper.make_node("MatMul", ["x", "wq"], ["q"]),
            helper.make_node("Add", ["q", "bq"], ["qb"]),
            helper.make_node("Reshape", ["qb", "shape"], ["qr"]),
            helper.make_node("Transpose", ["qr"], ["qt"], perm=[0, 2, 1, 3]),
            helper.make_node("MatMul", ["qt", "qt_t"], ["att"]),
            helper.make_node("Softmax", ["att"], ["sm"], axis=-1),
            helper.make_node("ReduceMean", ["sm", "axes"], ["red"], keepdims=1),
            helper.make_node("LayerNormalization", ["x", "gamma", "beta"], ["ln"], axis=-1),
            helper.make_node("Gelu", ["ln"], ["y"]),
        ],
        "transformer",
        [_vi("x", f, [1, 8, 16]), _vi("qt_t", f, [1, 2, 8, 8])],
        [_vi("y", f, [1, 8, 16]), _vi("red", f, [1, 2, 8, 1])],
        [
            _init(rng, "wq", (16, 16)), _init(rng, "bq", (16,)),
            numpy_helper.from_array(np.array([1, 8, 2, 8], np.int64), "shape"),
            numpy_helper.from_array(np.array([-1], np.int64), "axes"),
            _init(rng, "gamma", (16,)), _init(rng, "beta", (16,)),
        ],
        opset=20,
    )
    i64 = T.INT64
    out["built_indexing"] = _model(
        [
            helper.make_node("Concat", ["a", "b"], ["cat"], axis=1),
            helper.make_node("Slice", ["cat", "starts", "ends", "axes"], ["sl"]),
            helper.make_node("Gather", ["sl", "idx"], ["ga"], axis=1),
            helper.make_node("Unsqueeze", ["ga", "ax0"], ["un"]),
            helper.make_node("Squeeze", ["un", "ax0"], ["sq"]),
            helper.make_node("Pad", ["sq", "pads"], ["pd"], mode="reflect"),
            helper.make_node("Resize", ["pd", "", "scales"], ["rs"], mode="nearest"),
            helper.make_node("Greater", ["rs", "zero"], ["gt"]),
            helper.make_node("Where", ["gt", "rs", "zero"], ["y"]),
        ],
        "indexing",
        [_vi("a", f, [2, 3, 4]), _vi("b", f, [2, 5, 4])],
        [_vi("y", f, [2, 8, 6])],
        [
            numpy_helper.from_array(np.array([1], np.int64), "starts"),
            numpy_helper.from_array(np.array([7], np.int64), "ends"),
            numpy_helper.from_array(np.array([1], np.int64), "axes"),
            numpy_helper.from_array(np.array([0, 2, 5, 1], np.int64), "idx"),
            numpy_helper.from_array(np.array([0], np.int64), "ax0"),
            numpy_helper.from_array(np.array([0, 0, 1, 0, 0, 1], np.int64), "pads"),
            numpy_helper.from_array(np.array([1, 2, 1], np.float32), "scales"),
            numpy_helper.from_array(np.array(0, np.float32), "zero"),
        ],
    )
    out["built_integers"] = _model(
        [
            helper.make_node("Add", ["i", "j"], ["s"]),
            helper.make_node("Mul", ["s", "k"], ["m"]),
            helper.make_node("Div", ["m", "two"], ["d"]),
            helper.make_node("Equal", ["d", "j"], ["eq"]),
            helper.make_node("Not", ["eq"], ["y"]),
            helper.make_node("Cast", ["d"], ["c"], to=T.INT32),
            helper.make_node("Max", ["c", "c32"], ["z"]),
        ],
        "integers",
        [_vi("i", i64, [3, 4]), _vi("j", i64, [4]), _vi("c32", T.INT32, [1, 4])],
        [_vi("y", T.BOOL, [3, 4]), _vi("z", T.INT32, [3, 4])],
        [
            numpy_helper.from_array(np.array([[3], [1], [7]], np.int64), "k"),
            numpy_helper.from_array(np.array(2, np.int64), "two"),
        ],
    )
    out["built_opset11"] = _model(
        [
            helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[1, 1]),
            helper.make_node("HardSigmoid", ["c"], ["hs"], alpha=0.2, beta=0.5),
            helper.make_node("Mul", ["c", "hs"], ["hw"]),
            helper.make_node("Clip", ["hw", "lo", "hi"], ["cl"]),
            helper.make_node("AveragePool", ["cl"], ["y"], kernel_shape=[2, 2], strides=[2, 2]),
        ],
        "opset11",
        [_vi("x", f, [1, 4, 8, 8])],
        [_vi("y", f, [1, 6, 4, 4])],
        [
            _init(rng, "w", (6, 4, 1, 1)),
            numpy_helper.from_array(np.array(0, np.float32), "lo"),
            numpy_helper.from_array(np.array(6, np.float32), "hi"),
        ],
        opset=11,
    )
    return out


def external_model() -> tuple[onnx.ModelProto, bytes]:
    """y = Relu(x @ w + b), ``w`` and ``b`` stored in ``weights.bin``."""
    rng = np.random.default_rng(1)
    w = (rng.standard_normal((8, 4)) * 0.1).astype(np.float32)
    b = (rng.standard_normal(4) * 0.1).astype(np.float32)
    model = _model(
        [helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Add", ["m", "b"], ["a"]),
         helper.make_node("Relu", ["a"], ["y"])],
        "external",
        [_vi("x", T.FLOAT, [2, 8])],
        [_vi("y", T.FLOAT, [2, 4])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")],
    )
    blob = b""
    for tensor, arr in zip(model.graph.initializer, (w, b), strict=True):
        data = arr.tobytes()
        tensor.ClearField("raw_data")
        tensor.ClearField("float_data")
        tensor.data_location = T.EXTERNAL
        for key, value in (("location", "weights.bin"), ("offset", str(len(blob))),
                           ("length", str(len(data)))):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, value
        blob += data
    return model, blob


def node_test_models() -> dict[str, onnx.ModelProto]:
    """The first small backend node test of every operator the compiler supports."""
    import warnings

    from compiler_core.codegen.anchors import ANCHORS
    from compiler_core.codegen.ops import EMITTERS

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from onnx.backend.test.case.node import collect_testcases

        cases = collect_testcases(None)
    wanted = set(EMITTERS) | set(ANCHORS)
    out: dict[str, onnx.ModelProto] = {}
    seen: set[str] = set()
    for case in cases:
        if case.model is None or len(case.model.graph.node) != 1:
            continue
        op = case.model.graph.node[0].op_type
        if op in wanted and op not in seen and case.model.ByteSize() <= NODE_TEST_MAX_BYTES:
            model = _lower_opset(case.model)
            if model is not None:
                seen.add(op)
                out[f"node_{op}"] = model
    return out


def _lower_opset(model: onnx.ModelProto) -> onnx.ModelProto | None:
    """The node tests are written at the newest opset; the compiler reads 9..21. The model at
    opset 21 when it still passes the checker, else ``None``."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    for imp in copy.opset_import:
        if imp.domain in ("", "ai.onnx"):
            imp.version = min(imp.version, 21) if imp.version >= 9 else 13
    copy.ir_version = min(copy.ir_version, 10)
    try:
        onnx.checker.check_model(copy, full_check=True)
    except Exception:  # noqa: BLE001 - the operator changed since 21: skip this test
        return None
    return copy


def write_corpus(directory: Path = SEEDS) -> list[Path]:
    """(Re)build the committed seed corpus; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    light = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
    models = {f"light_{n}": onnx.load(str(light / f"light_{n}.onnx")) for n in LIGHT}
    models.update(built_models())
    models.update(node_test_models())
    for name, model in sorted(models.items()):
        path = directory / f"{name}.onnx"
        path.write_bytes(model.SerializeToString())
        written.append(path)
    ext, blob = external_model()
    (directory / "built_external").mkdir(exist_ok=True)
    (directory / "built_external" / "model.onnx").write_bytes(ext.SerializeToString())
    (directory / "built_external" / "weights.bin").write_bytes(blob)
    written += [directory / "built_external" / "model.onnx", directory / "built_external" / "weights.bin"]
    return written
