"""Hostile requests (issue #8): a clean 4xx with a short one-line reason, no server path,
nothing stored; typed compile options; every multipart part counted."""

from __future__ import annotations

import io
import json
import uuid
import zipfile

import pytest

from compiler_core.options import OPTIONS
from service.schemas.compile_options import CompileOptions
from service.text import scrub_paths, short
from tests.service import hostile as h
from tests.service import onnx_models as m
from tests.service.helpers import assert_compiler_outcome, stored_models, tmp_entries, wait_final

MiB = 1 << 20


def _h(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def _detail(r, status: int) -> str:
    assert r.status_code == status, r.text
    detail = r.json()["detail"]
    assert "\n" not in detail and "Traceback" not in detail
    return detail


@pytest.fixture
def model_id(embedded):
    r = embedded.client.post(
        "/api/v1/models", headers=_h(embedded.alice), files={"file": ("m.onnx", m.tiny_bytes(3))}
    )
    return r.json()["id"]


def _compile(embedded, model_id, **body):
    return embedded.client.post(
        "/api/v1/compilations", headers=_h(embedded.alice), json={"model_id": model_id, **body}
    )


# ---- paging ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/models", "/api/v1/compilations"])
@pytest.mark.parametrize("query", ["skip=9223372036854775808", "skip=2147483648", "limit=101"])
def test_paging_out_of_range_is_422(embedded, path, query):
    detail = _detail(embedded.client.get(f"{path}?{query}", headers=_h(embedded.alice)), 422)
    assert detail.startswith(f"query.{query.split('=')[0]}: Input should be less than")


def test_paging_at_the_bound(embedded):
    r = embedded.client.get("/api/v1/models?skip=2147483647", headers=_h(embedded.alice))
    assert r.status_code == 200 and r.json()["data"] == []


# ---- compile options -----------------------------------------------------------------------


def test_compile_options_match_the_compiler():
    fields = {f.alias or name: f.default for name, f in CompileOptions.model_fields.items()}
    assert fields == OPTIONS


@pytest.mark.parametrize(
    ("options", "field", "reason"),
    [
        ({"rewrite": "no"}, "rewrite", "valid boolean"),
        ({"rewrite": 1}, "rewrite", "valid boolean"),
        ({"fast_math": None}, "fast_math", "valid boolean"),
        ({"validate": "yes"}, "validate", "valid boolean"),
        ({"compare_with_onnxruntime": 0}, "compare_with_onnxruntime", "valid boolean"),
        ({"memory_limit_bytes": 1.5}, "memory_limit_bytes", "valid integer"),
        ({"memory_limit_bytes": True}, "memory_limit_bytes", "valid integer"),
        ({"memory_limit_bytes": "1000"}, "memory_limit_bytes", "valid integer"),
        ({"memory_limit_bytes": 0}, "memory_limit_bytes", "greater than 0"),
        ({"build_timeout_s": "60"}, "build_timeout_s", "valid number"),
        ({"build_timeout_s": -1}, "build_timeout_s", "greater than 0"),
        ({"build_timeout_s": 1e9}, "build_timeout_s", "less than or equal to 86400"),
        ({"validate_artifact": False}, "validate_artifact", "Extra inputs are not permitted"),
        ({"x" * 5000: 1}, "xxxx", "Extra inputs are not permitted"),
    ],
)
def test_bad_compile_option_is_422_naming_the_field(embedded, model_id, options, field, reason):
    detail = _detail(_compile(embedded, model_id, options=options), 422)
    assert detail.startswith(f"body.options.{field}") and reason in detail, detail
    assert len(detail) < 300


def test_nan_timeout_is_422(embedded, model_id):
    body = '{"model_id": "MID", "options": {"build_timeout_s": NaN}}'.replace("MID", model_id)
    r = embedded.client.post(
        "/api/v1/compilations",
        headers={**_h(embedded.alice), "Content-Type": "application/json"},
        content=body,
    )
    assert "body.options.build_timeout_s" in _detail(r, 422)


def test_typed_options_are_stored_as_set_and_compiled(embedded, model_id):
    options = {"rewrite": False, "validate": True, "build_timeout_s": 120}
    r = _compile(embedded, model_id, options=options)
    assert r.status_code == 202, r.text
    assert r.json()["options"] == {"rewrite": False, "validate": True, "build_timeout_s": 120.0}
    assert_compiler_outcome(wait_final(embedded.client, embedded.alice, r.headers["location"]))


# ---- other fields of a compilation request --------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"target": "t" * (MiB // 2)}, "body.target: String should have at most 64 characters"),
        (
            {"input_shapes": {f"in{i}": [1] for i in range(5000)}},
            "body.input_shapes: Dictionary should have at most 1024 items",
        ),
        ({"input_shapes": {"x": [1, 2**40]}}, "less than or equal to 2147483647"),
        ({"input_shapes": {"x": [1, -3]}}, "greater than or equal to 0"),
        ({"input_shapes": {"x": [1, True]}}, "valid integer"),
        # 4.0 is an integer to JSON Schema (and accepted: test_openapi_contract); 4.5 is not.
        ({"input_shapes": {"x": [1, 4.5]}}, "valid integer"),
        ({"input_shapes": {"x": [1] * 65}}, "List should have at most 64 items"),
        ({"input_shapes": {"n" * 5000: [1]}}, "String should have at most 1024 characters"),
        ({"input_shapes": {"": [1]}}, "String should have at least 1 character"),
        ({"model": "typo"}, "body.model: Extra inputs are not permitted"),
    ],
    ids=[
        "target 512 KiB",
        "5000 inputs",
        "huge dim",
        "negative dim",
        "bool dim",
        "fractional dim",
        "rank 65",
        "5000-char name",
        "empty name",
        "unknown field",
    ],
)
def test_bad_compilation_fields(embedded, model_id, body, reason):
    detail = _detail(_compile(embedded, model_id, **body), 422)
    assert reason in detail and len(detail) < 400, detail


def test_unknown_input_names_are_listed_cut(embedded, model_id):
    names = {f"{i:03d}" + "n" * 900: [1] for i in range(50)}
    detail = _detail(_compile(embedded, model_id, input_shapes=names), 422)
    assert "are not inputs of the model ['x']" in detail and "and 45 more" in detail
    assert "(905 characters)" in detail and len(detail) < 1000


def test_json_body_over_1_mib_is_413(embedded, model_id):
    body = json.dumps({"model_id": model_id, "target": "x" * (2 * MiB)})
    r = embedded.client.post(
        "/api/v1/compilations",
        headers={**_h(embedded.alice), "Content-Type": "application/json"},
        content=body,
    )
    assert "request body exceeds the limit of 1048576 bytes" in _detail(r, 413)

    def chunks():  # no Content-Length: counted as it arrives
        for i in range(0, len(body), 64 * 1024):
            yield body[i : i + 64 * 1024].encode()

    r = embedded.client.post(
        "/api/v1/compilations",
        headers={**_h(embedded.alice), "Content-Type": "application/json"},
        content=chunks(),
    )
    assert "exceeds the limit" in _detail(r, 413)


def test_multipart_content_type_does_not_lift_the_json_cap(embedded):
    r = embedded.client.post(
        "/api/v1/compilations",
        headers={**_h(embedded.alice), "Content-Type": "multipart/form-data; boundary=b"},
        content=b"--b\r\n" + b"x" * (2 * MiB),
    )
    assert "request body exceeds the limit of 1048576 bytes" in _detail(r, 413)


# ---- multipart ----------------------------------------------------------------------------


def _multipart(embedded, parts: list[tuple[str, str | None, bytes]], boundary: str = "bnd"):
    body = b""
    for name, filename, data in parts:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        body += f"--{boundary}\r\nContent-Disposition: {disp}\r\n\r\n".encode() + data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return embedded.client.post(
        "/api/v1/models",
        headers={
            **_h(embedded.alice),
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
        content=body,
    )


def _nothing_stored(embedded) -> None:
    root = embedded.settings.storage_root
    assert stored_models(root) == set() and tmp_entries(root) == []


def test_large_non_file_field_is_413(embedded):
    """Was accepted: 300 MB in another field under a 20 MB cap. Here 2 MiB under 1 MiB."""
    r = _multipart(embedded, [("file", "m.onnx", m.tiny_bytes()), ("note", None, b"n" * 2 * MiB)])
    detail = _detail(r, 413)
    assert "limit" in detail
    _nothing_stored(embedded)


def test_non_file_fields_capped_small(embedded):
    r = _multipart(embedded, [("note", None, b"n" * 70_000), ("file", "m.onnx", m.tiny_bytes())])
    assert (
        _detail(r, 413) == "form field 'note': fields other than 'file' may hold 65536 bytes in all"
    )
    _nothing_stored(embedded)
    small = _multipart(embedded, [("note", None, b"hi"), ("file", "m.onnx", m.tiny_bytes())])
    assert small.status_code == 201, small.text


def test_every_part_counts_toward_the_cap(embedded):
    """A file just under the cap plus a small field: over it."""
    parts = [("note", None, b"z" * 30_000), ("file", "m.onnx", b"\0" * (MiB - 1000))]
    assert _detail(_multipart(embedded, parts), 413) == "upload exceeds the limit of 1048576 bytes"
    _nothing_stored(embedded)


def test_too_many_parts_is_413(embedded):
    parts = [(f"f{i}", None, b"1") for i in range(20)] + [("file", "m.onnx", m.tiny_bytes())]
    assert _detail(_multipart(embedded, parts), 413) == "the form has more than 16 parts"


@pytest.mark.parametrize("length", [20_000, MiB])
def test_huge_filename_header_is_refused(embedded, length):
    r = _multipart(embedded, [("file", "a" * length + ".onnx", m.tiny_bytes())])
    assert r.status_code in (400, 413), r.text
    assert len(r.json()["detail"]) < 200
    _nothing_stored(embedded)


def test_long_filename_is_cut_in_the_response(embedded):
    r = _multipart(embedded, [("file", "a" * 1000 + ".onnx", m.tiny_bytes(9))])
    assert r.status_code == 201, r.text
    name = r.json()["name"]
    assert name == "a" * 200 + "… (1005 characters)"
    listed = embedded.client.get("/api/v1/models", headers=_h(embedded.alice)).json()
    assert listed["data"][0]["name"] == name


def test_content_length_understating_the_body(embedded):
    """The cap counts the bytes that arrive, not what Content-Length claims."""
    boundary = "bnd"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="m.onnx"\r\n\r\n'
        ).encode()
        + b"\0" * (2 * MiB)
        + f"\r\n--{boundary}--\r\n".encode()
    )
    r = embedded.client.post(
        "/api/v1/models",
        headers={
            **_h(embedded.alice),
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": "100",
        },
        content=body,
    )
    assert "limit" in _detail(r, 413)
    _nothing_stored(embedded)


# ---- archives -----------------------------------------------------------------------------


def _upload(embedded, data: bytes, filename: str = "upload.bin"):
    return embedded.client.post(
        "/api/v1/models", headers=_h(embedded.alice), files={"file": (filename, data)}
    )


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


ARCHIVES = {
    "tar name not UTF-8": (
        h.gz(h.tar_member(b"mod\xffel.onnx", m.tiny_bytes())),
        "archive member 'mod\\\\xffel.onnx': name is not valid UTF-8",
    ),
    "zip name not UTF-8": (
        h.zip_with_raw_name(b"mod\xffel.onnx", m.tiny_bytes()),
        "archive member 'mod\\\\xffel.onnx': name is not valid UTF-8",
    ),
    "tar file then dir of the same name": (
        h.gz(h.tar_member(b"a", b"1"), h.tar_member(b"a/model.onnx", m.tiny_bytes())),
        "archive member 'a/model.onnx': conflicts with another member",
    ),
    "zip file then dir of the same name": (
        _zip({"a": b"1", "a/model.onnx": m.tiny_bytes()}),
        "archive member 'a/model.onnx': conflicts with another member",
    ),
    "zip directory claims 60000 entries": (
        h.zip_with_directory_claim(
            _zip({"model.onnx": m.tiny_bytes()}), entries=60000, cd_bytes=100
        ),
        "archive has more than 1000 members",
    ),
    "zip directory claims 4 GB": (
        h.zip_with_directory_claim(
            _zip({"model.onnx": m.tiny_bytes()}), entries=1, cd_bytes=0xFFFFFFF0
        ),
        "zip central directory of 4294967280 bytes exceeds the limit",
    ),
    "zip member encrypted": (
        h.zip_patched(_zip({"model.onnx": m.tiny_bytes()}), flags=0x1),
        "archive member 'model.onnx': encrypted members are not supported",
    ),
    "zip member with an unknown compression method": (
        h.zip_patched(_zip({"model.onnx": m.tiny_bytes()}), method=99),
        "archive member 'model.onnx': corrupt or unsupported",
    ),
    "zip64 record claims 1 TiB of directory": (
        h.zip_with_zip64_record(_zip({"model.onnx": m.tiny_bytes()}), cd_bytes=1 << 40),
        "zip central directory of 1099511627776 bytes exceeds the limit",
    ),
    "zip64 record claims 2**40 entries": (
        h.zip_with_zip64_record(_zip({"model.onnx": m.tiny_bytes()}), entries=1 << 40),
        "archive has more than 1000 members",
    ),
    "zip with 2000 members": (
        _zip({"model.onnx": m.tiny_bytes(), **{f"w{i}": b"" for i in range(2000)}}),
        "archive has more than 1000 members",
    ),
    "tar member name of 5000 characters": (
        h.gz(h.tar_member(b"././@LongLink", b"a" * 5000, b"L"), h.tar_member(b"x", b"1")),
        "name longer than 4096 bytes",
    ),
    "zip member name of 5000 characters": (
        _zip({"model.onnx": m.tiny_bytes(), "b" * 5000: b"1"}),
        "name longer than 4096 bytes",
    ),
    "zip path component of 300 characters": (
        _zip({"model.onnx": m.tiny_bytes(), "c" * 300: b"1"}),
        "a path component is longer than 255 bytes",
    ),
    "tar directory with data": (
        h.gz(h.tar_member(b"d/", b"x" * 5000, b"5")),
        "archive member 'd/': a directory with data",
    ),
    "tar sparse member": (
        h.gz(h.tar_member(b"model.onnx", m.tiny_bytes(), b"S")),
        "archive member 'model.onnx': not a regular file",
    ),
    "tar 9 chained PAX headers": (
        h.gz(*[h.tar_member(b"P", h.pax_record(b"comment", b"c"), b"x")] * 9),
        "more than 8 extension headers before one member",
    ),
    ".onnx path over 1024 characters": (
        h.gz(
            h.tar_member(b"././@LongLink", (b"d" * 200 + b"/") * 6 + b"m.onnx", b"L"),
            h.tar_member(b"x", m.tiny_bytes()),
        ),
        "is longer than 1024 characters",
    ),
}


def test_honest_zip64_record_is_read(embedded):
    data = h.zip_with_zip64_record(_zip({"net/model.onnx": m.tiny_bytes(21)}))
    assert zipfile.ZipFile(io.BytesIO(data)).namelist() == ["net/model.onnx"]
    r = _upload(embedded, data)
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("case", list(ARCHIVES))
def test_hostile_archive_is_422(embedded, case):
    data, reason = ARCHIVES[case]
    detail = _detail(_upload(embedded, data), 422)
    assert reason in detail, detail
    assert len(detail) < 400, detail
    assert str(embedded.settings.storage_root) not in detail
    assert "/stage-" not in detail and "/tmp" not in detail
    _nothing_stored(embedded)


# ---- the last guard: no server path in any error text ---------------------------------------


def test_error_handlers_scrub_server_paths(embedded):
    from fastapi import HTTPException

    from compiler_core.errors import DnnFusionError
    from service.upload import UploadError

    root = embedded.settings.storage_root
    leak = f"cannot open {root}/tmp/stage-1234/model.onnx: [Errno 2]\nsecond line"
    app = embedded.client.app

    def raising(exc: Exception):
        def boom() -> None:
            raise exc

        return boom

    app.add_api_route("/t/upload", raising(UploadError(422, leak)))
    app.add_api_route("/t/http", raising(HTTPException(409, leak)))
    app.add_api_route("/t/compiler", raising(DnnFusionError(leak)))
    for path in ("/t/upload", "/t/http", "/t/compiler"):
        r = embedded.client.get(path)
        assert r.status_code in (409, 422), r.text
        assert r.json()["detail"] == "cannot open <server path>: [Errno 2] second line"


def test_text_helpers():
    assert short("abc") == "abc"
    assert short("x" * 5000, 10) == "xxxxxxxxxx… (5000 characters)"
    assert scrub_paths("at /srv/data/tmp/x.onnx, then", ["/srv/data"]) == "at <server path>, then"
    assert scrub_paths("member '/etc/passwd'", ["/srv/data"]) == "member '/etc/passwd'"


# ---- model inputs are shown in every listing: bounded ----------------------------------------


def _identity_model(inputs: list[tuple[str, list]]) -> bytes:
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", [n], [f"out{i}"]) for i, (n, _) in enumerate(inputs)],
        "many",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
        [
            helper.make_tensor_value_info(f"out{i}", TensorProto.FLOAT, s)
            for i, (_, s) in enumerate(inputs)
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    return model.SerializeToString()


@pytest.mark.parametrize(
    ("inputs", "reason"),
    [
        ([("i" * 5000, [1])], "name longer than 1024 characters"),
        ([(f"in{i}", [1]) for i in range(1100)], "the model has 1100 inputs; at most 1024"),
        ([("x", [1] * 70)], "model input 'x': rank above 64"),
    ],
    ids=["5000-char input name", "1100 inputs", "rank 70"],
)
def test_model_inputs_are_bounded(embedded, inputs, reason):
    detail = _detail(_upload(embedded, _identity_model(inputs), "m.onnx"), 422)
    assert reason in detail and len(detail) < 300, detail
    _nothing_stored(embedded)


def test_long_symbolic_dim_is_cut_in_the_response(embedded):
    r = _upload(embedded, _identity_model([("x", ["N" * 5000, 4])]), "m.onnx")
    assert r.status_code == 201, r.text
    assert r.json()["inputs"][0]["shape"] == ["N" * 80 + "… (5000 characters)", 4]


def test_job_error_text_is_guarded(embedded, model_id):
    """A worker's error text is shown through the same guard (one line, no server path)."""
    from dnfstore.models import Compilation

    r = _compile(embedded, model_id)
    location = r.headers["location"]
    wait_final(embedded.client, embedded.alice, location)
    root = embedded.settings.storage_root
    with embedded.client.app.state.sessionmaker() as session:
        job = session.get(Compilation, uuid.UUID(r.json()["id"]))
        job.state, job.error = "failed", f"cc failed:\n{root}/jobs/x/block0.c:3: error"
        session.commit()
    shown = embedded.client.get(location, headers=_h(embedded.alice)).json()["error"]
    assert shown == "cc failed: <server path>:3: error"
    listed = embedded.client.get("/api/v1/compilations", headers=_h(embedded.alice)).json()
    assert listed["data"][0]["error"] == shown
