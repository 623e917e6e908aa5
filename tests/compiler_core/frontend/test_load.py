"""Reading models: bad files and external-data safety (compiler_core/frontend/load.py)."""

from __future__ import annotations

import builtins
import os

import numpy as np
import onnx
import pytest

from compiler_core.errors import DnnFusionError, ModelLoadError
from compiler_core.frontend import import_model
from tests.compiler_core.frontend.builders import const, make_model, relu_model, tensor_info
from tests.helpers.ort import run_ort


def one_line(err: pytest.ExceptionInfo) -> str:
    message = str(err.value)
    assert "\n" not in message
    return message


# ---------------------------------------------------------------- not a model at all


def test_missing_file(tmp_path):
    path = tmp_path / "nope.onnx"
    with pytest.raises(ModelLoadError) as err:
        import_model(path)
    assert str(path) in one_line(err) and "no such file" in str(err.value)


def test_directory_is_not_a_model(tmp_path):
    with pytest.raises(ModelLoadError, match="not a regular file"):
        import_model(tmp_path)


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(np.random.default_rng(0).bytes(4096), id="random-bytes"),
        pytest.param(b"hello, this is a text file\nnot a model at all\n", id="text"),
        pytest.param(b"", id="empty"),
    ],
)
def test_not_an_onnx_file(tmp_path, content):
    path = tmp_path / "bad.onnx"
    path.write_bytes(content)
    with pytest.raises(ModelLoadError) as err:
        import_model(path)
    assert str(path) in one_line(err)
    assert "not an ONNX model" in str(err.value) or "empty file" in str(err.value)


def test_truncated_file(tmp_path, real_models_dir):
    data = (real_models_dir / "ppocr_mobile_v2_cls.onnx").read_bytes()
    path = tmp_path / "truncated.onnx"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError) as err:
        import_model(path)
    assert str(path) in one_line(err) and "truncated" in str(err.value)


def test_model_proto_is_not_modified():
    model = relu_model()
    before = model.SerializeToString()
    result = import_model(model)
    assert result.source == "<ModelProto>"
    assert model.SerializeToString() == before


# ---------------------------------------------------------------- external data


def external_model(tmp_path, location: str = "weights.bin", data: bytes | None = None):
    """relu_model() saved in tmp_path/model/ with weight 'w' as external data at ``location``."""
    model_dir = tmp_path / "model"
    model_dir.mkdir(exist_ok=True)
    model = relu_model()
    w = model.graph.initializer[0]
    raw = np.arange(4, dtype=np.float32).tobytes() if data is None else data
    w.ClearField("float_data")
    w.raw_data = b""
    onnx.external_data_helper.set_external_data(w, location=location, length=len(raw))
    w.data_location = onnx.TensorProto.EXTERNAL
    path = model_dir / "model.onnx"
    path.write_bytes(model.SerializeToString())
    return path, raw


@pytest.fixture
def opened(monkeypatch):
    """Record every path opened through builtins.open / os.open during the test."""
    paths: list[str] = []
    real_open, real_os_open = builtins.open, os.open

    def spy_open(file, *args, **kwargs):
        if isinstance(file, (str, os.PathLike)):
            paths.append(os.path.realpath(file))
        return real_open(file, *args, **kwargs)

    def spy_os_open(file, *args, **kwargs):
        paths.append(os.path.realpath(file))
        return real_os_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", spy_open)
    monkeypatch.setattr(os, "open", spy_os_open)
    return paths


def test_external_data_inside_directory_loads(tmp_path):
    path, raw = external_model(tmp_path)
    (path.parent / "weights.bin").write_bytes(raw)
    result = import_model(path)
    w = result.model.graph.initializers["w"].const_value.numpy()
    np.testing.assert_array_equal(w, np.arange(4, dtype=np.float32))
    x = np.array([[-5.0, 0.5, -1.5, 2.0]], dtype=np.float32)
    np.testing.assert_array_equal(run_ort(result.model, {"x": x})["y"], np.maximum(x + w, 0))


def test_external_data_dotdot_escape_is_refused_before_reading(tmp_path, opened):
    path, raw = external_model(tmp_path, location="../secret.bin")
    secret = tmp_path / "secret.bin"
    secret.write_bytes(raw)
    with pytest.raises(ModelLoadError) as err:
        import_model(path)
    message = one_line(err)
    assert "'w'" in message and "../secret.bin" in message and ".." in message
    assert str(secret) not in opened


@pytest.mark.parametrize("kind", ["absolute", "symlink", "nested-dotdot"])
def test_external_data_escapes_are_refused(tmp_path, opened, kind):
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.arange(4, dtype=np.float32).tobytes())
    if kind == "absolute":
        location = str(secret)
    elif kind == "symlink":
        location = "link.bin"
    else:
        location = "sub/../../secret.bin"
    path, _ = external_model(tmp_path, location=location)
    if kind == "symlink":
        os.symlink(secret, path.parent / "link.bin")
    with pytest.raises(ModelLoadError) as err:
        import_model(path)
    message = one_line(err)
    assert "'w'" in message and location in message
    assert str(secret) not in opened


def test_every_location_is_checked_before_any_is_read(tmp_path, opened):
    """A safe tensor followed by an escaping one: neither file is opened."""
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "ok.bin").write_bytes(np.zeros(4, np.float32).tobytes())
    (tmp_path / "secret.bin").write_bytes(np.zeros(4, np.float32).tobytes())
    model = relu_model()
    b = const("b", np.zeros(4, np.float32))
    model.graph.initializer.append(b)
    model.graph.node[1].input[0] = "s2"
    model.graph.node.insert(1, onnx.helper.make_node("Add", ["s", "b"], ["s2"], name="add2"))
    for tensor, location in zip(model.graph.initializer, ["ok.bin", "../secret.bin"], strict=True):
        tensor.ClearField("float_data")
        tensor.raw_data = b""
        onnx.external_data_helper.set_external_data(tensor, location=location, length=16)
        tensor.data_location = onnx.TensorProto.EXTERNAL
    path = model_dir / "model.onnx"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(ModelLoadError, match=r"'b'.*\.\./secret\.bin"):
        import_model(path)
    assert not [p for p in opened if p.endswith(".bin")]


def test_external_data_in_constant_attribute_is_checked(tmp_path, opened):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    value = const("", np.zeros(4, np.float32))
    value.ClearField("float_data")
    value.raw_data = b""
    onnx.external_data_helper.set_external_data(value, location="/etc/passwd", length=16)
    value.data_location = onnx.TensorProto.EXTERNAL
    nodes = [
        onnx.helper.make_node("Constant", [], ["c"], name="the_const", value=value),
        onnx.helper.make_node("Add", ["x", "c"], ["y"], name="add"),
    ]
    model = make_model(nodes, [tensor_info("x", [1, 4])], [tensor_info("y", [1, 4])])
    path = model_dir / "model.onnx"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(ModelLoadError) as err:
        import_model(path)
    message = one_line(err)
    assert "the_const" in message and "/etc/passwd" in message and "absolute" in message
    assert "/etc/passwd" not in opened


def test_missing_external_file(tmp_path):
    path, _ = external_model(tmp_path, location="gone.bin")
    with pytest.raises(ModelLoadError, match=r"'w'.*gone\.bin.*no such file"):
        import_model(path)


def test_external_data_shorter_than_declared(tmp_path):
    path, raw = external_model(tmp_path)
    (path.parent / "weights.bin").write_bytes(raw[:8])
    with pytest.raises(ModelLoadError, match=r"'w'.*exceeds the file size"):
        import_model(path)


def test_model_proto_with_external_data_is_refused(tmp_path):
    path, _ = external_model(tmp_path)
    model = onnx.load(str(path), load_external_data=False)
    with pytest.raises(ModelLoadError, match=r"<ModelProto>: initializer 'w'.*weights\.bin"):
        import_model(model)


# ---------------------------------------------------------------- corrupted bytes


def test_invalid_utf8_name_is_a_load_error():
    data = relu_model().SerializeToString().replace(b"relu", b"r\xb3lu", 1)
    model = onnx.ModelProto()
    model.ParseFromString(data)
    with pytest.raises(ModelLoadError, match=r"not valid UTF-8"):
        import_model(model)


def test_corrupted_bytes_raise_only_typed_errors(tmp_path):
    """Byte flips anywhere in a small model: the import succeeds or raises one of ours."""
    data = relu_model(("N", 4)).SerializeToString()
    rng = np.random.default_rng(7)
    path = tmp_path / "m.onnx"
    outcomes = set()
    for _ in range(120):
        mutated = bytearray(data)
        for index in rng.integers(0, len(data), size=rng.integers(1, 4)):
            mutated[index] = rng.integers(0, 256)
        path.write_bytes(bytes(mutated))
        try:
            import_model(path, {"x": (1, 4)})
            outcomes.add("ok")
        except DnnFusionError as e:
            assert "\n" not in str(e)
            outcomes.add(type(e).__name__)
    assert len(outcomes) >= 3


@pytest.mark.parametrize(
    "edit, held",
    [
        (lambda w: setattr(w, "raw_data", np.arange(4, dtype=np.float32).tobytes() + b"\0" * 3),
         "holds 19 bytes of raw data; its dims [4] and dtype FLOAT need 16"),
        (lambda w: setattr(w, "raw_data", np.arange(3, dtype=np.float32).tobytes()),
         "holds 12 bytes of raw data; its dims [4] and dtype FLOAT need 16"),
        (lambda w: (w.ClearField("raw_data"), w.float_data.extend([1.0] * 5)),
         "holds 5 values in float_data; its dims [4] and dtype FLOAT need 4"),
        (lambda w: (w.ClearField("raw_data"), w.float_data.extend([1.0] * 4),
                    w.int64_data.extend([2**62])),
         "holds 4 values in float_data (and values in int64_data)"),
    ],
    ids=["raw too long", "raw too short", "typed too many", "wrong typed field"],
)
def test_a_tensor_holding_other_than_its_dims_claim_is_refused(tmp_path, edit, held):
    model = relu_model()
    w = model.graph.initializer[0]
    w.ClearField("float_data")
    w.raw_data = np.arange(4, dtype=np.float32).tobytes()
    edit(w)
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString())
    for source in (path, model):
        with pytest.raises(ModelLoadError) as err:
            import_model(source)
        assert "initializer 'w' " + held in one_line(err)
