"""Model text never becomes C code (issue #8): names made of comment closers, quotes,
backslashes, newlines, trigraphs, every template placeholder, a C injection, 1 MB and
non-UTF-8 names. Both targets are compiled, the C passes ``cc -fsyntax-only``, a small C
tokenizer strips literals and comments and no fragment of any name is left, and the results
equal ONNX Runtime's."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from compiler_core.codegen import runner
from compiler_core.codegen.build import blas_flags
from compiler_core.codegen.c import source
from compiler_core.codegen.cnames import _PLACEHOLDER, c_string, fill, text_bytes
from compiler_core.codegen.generate import TensorSpec
from compiler_core.compile import compile_model
from compiler_core.runtime import InferenceSession
from compiler_core.target.targets import TARGETS
from dnnfusion.cli import main
from tests.helpers.ort import run_ort

MARK = "HOSTILEzq"  # in every hostile name: must never survive outside literals/comments
PLACEHOLDERS = sorted({
    m.group(0)
    for t in (runner._TEMPLATE, source.text("prelude.c"), source.text("entry.c"))
    for m in _PLACEHOLDER.finditer(t)
})
INJECTION = ("}; __attribute__((constructor)) static void " + MARK
             + "_f(void){abort();} static const char* z[]={")
FRAGMENTS = ["*/", "/*", '"', "\\", "\n", "??/", "??=", "'", "%s%n", "é", "\\\n", *PLACEHOLDERS]
BIG = 1 << 20


def hostile(i: int) -> str:
    """A distinct name holding every fragment."""
    return f"{MARK}{i} " + " ".join(FRAGMENTS) + f" {INJECTION} #{i}"


def strip_c(source: str) -> str:
    """``source`` with string/char literals replaced by ``""``/``''`` and comments by a space
    (C11 translation phases 3 and 6 as far as they matter here; no trigraphs or line splices
    are expected, and the caller checks that)."""
    out: list[str] = []
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if source.startswith("//", i):
            j = source.find("\n", i)
            i = n if j < 0 else j
            out.append(" ")
        elif source.startswith("/*", i):
            j = source.find("*/", i + 2)
            assert j >= 0, "unterminated comment"
            i = j + 2
            out.append(" ")
        elif ch in "\"'":
            j = i + 1
            while source[j] != ch:
                assert source[j] != "\n", f"newline in a literal at {source[i:j][:80]!r}"
                j += 2 if source[j] == "\\" else 1
            out.append(ch + ch)
            i = j + 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def assert_no_model_text(source: str, where: str) -> None:
    assert source.isascii(), where
    assert not re.search(r"\?\?[=/'()!<>-]", source), f"{where}: a trigraph"
    assert not re.search(r"\\\n", source), f"{where}: a line splice"
    code = strip_c(source)
    for frag in (MARK, "@", "??", "constructor", "%n", "*/"):
        assert frag not in code, f"{where}: {frag!r} outside literals and comments"


# -- unit level: the escaping function and the one-pass filler ---------------------------------


def test_c_string_round_trips_through_the_c_compiler(tmp_path):
    """Every byte, trigraphs, NUL, surrogate-escaped non-UTF-8 bytes, a digit after an escape:
    the compiled literal holds exactly the text's bytes (-std=c11 honours trigraphs)."""
    texts = [bytes(range(256)).decode("latin-1"), "??/\n??=\"\\*/", "a\x00b", "\udcff\udc80x",
             "\n1\t7", "é€😀", INJECTION, "\ud800"]
    lits = [c_string(t) for t in texts]
    for lit in lits:
        assert lit.isascii() and "??" not in lit
    prog = "#include <stdio.h>\n" + "".join(
        f"static const char s{k}[] = {lit};\n" for k, lit in enumerate(lits)
    ) + "int main(void) {\n" + "".join(
        f'    fwrite(s{k}, 1, sizeof s{k} - 1, stdout); fputs("\\n--\\n", stdout);\n'
        for k in range(len(lits))
    ) + "    return 0;\n}\n"
    (tmp_path / "t.c").write_text(prog)
    subprocess.run(["cc", "-std=c11", "-Wall", "-Werror", "-o", str(tmp_path / "t"),
                    str(tmp_path / "t.c")], check=True)
    out = subprocess.run([str(tmp_path / "t")], capture_output=True, check=True).stdout
    assert out == b"".join(text_bytes(t) + b"\n--\n" for t in texts)


def test_c_string_cuts_long_text_at_a_character_boundary():
    assert c_string("abcdef", limit=4) == '"abcd..."'
    assert c_string("ab\u00e9", limit=3) == '"ab..."'  # é is 2 bytes: not split
    assert c_string("x" * 5, limit=5) == '"xxxxx"'
    assert len(c_string("y" * BIG, limit=runner.NAME_LIMIT)) == runner.NAME_LIMIT + 5


def test_fill_is_one_pass():
    assert fill("A=@A@ B=@B@", {"A": "@B@", "B": "@A@"}) == "A=@B@ B=@A@"
    with pytest.raises(KeyError):
        fill("@A@ @C@", {"A": 1})
    with pytest.raises(KeyError):
        fill("@A@", {"A": 1, "B": 2})


def test_runner_placeholder_injection_finding():
    """The finding: an input named @OUT_NAMES@ used to splice the output names in raw."""
    specs_in = [TensorSpec("@OUT_NAMES@", "float32", (2,))]
    specs_out = [TensorSpec(INJECTION, "float32", (2,))]
    src = runner.runner_source(specs_in, specs_out)
    assert_no_model_text(src, "runner.c")
    assert c_string("@OUT_NAMES@") in src and c_string(INJECTION) in src


# -- a whole model with hostile names, both targets ----------------------------------------


def hostile_model() -> onnx.ModelProto:
    """x (a 1 MB name) [2, 8] @ w -> Relu -> + (float)i -> y0; i / 3 (int32) -> y1; every
    other name, node name, doc string and metadata entry hostile; an input named exactly
    @OUT_NAMES@ and an output named with a C injection."""
    h = iter(range(100))
    x = MARK + "big" + "".join(FRAGMENTS) + "x" * BIG
    i_in, w, three = "@OUT_NAMES@", hostile(next(h)), hostile(next(h))
    m, r, ic = hostile(next(h)), hostile(next(h)), hostile(next(h))
    y0, y1 = INJECTION, hostile(next(h))
    nodes = [
        helper.make_node("MatMul", [x, w], [m], name=hostile(next(h)), doc_string=hostile(0)),
        helper.make_node("Relu", [m], [r], name=hostile(next(h))),
        helper.make_node("Cast", [i_in], [ic], name=hostile(next(h)), to=TensorProto.FLOAT),
        helper.make_node("Add", [r, ic], [y0], name=hostile(next(h))),
        helper.make_node("Div", [i_in, three], [y1], name=hostile(next(h))),
    ]
    rng = np.random.default_rng(0)
    graph = helper.make_graph(
        nodes, hostile(next(h)),
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, [2, 8]),
         helper.make_tensor_value_info(i_in, TensorProto.INT32, [2, 8])],
        [helper.make_tensor_value_info(y0, TensorProto.FLOAT, [2, 8]),
         helper.make_tensor_value_info(y1, TensorProto.INT32, [2, 8])],
        [numpy_helper.from_array(rng.standard_normal((8, 8)).astype(np.float32), w),
         numpy_helper.from_array(np.int32(3), three)],
        doc_string=hostile(1),
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)],
                              producer_name=hostile(2), doc_string=hostile(3))
    helper.set_model_props(model, {hostile(4): hostile(5)})
    model.ir_version = 10
    model = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    onnx.checker.check_model(model)
    return model


@pytest.fixture(scope="module")
def hostile_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("hostile") / "m.onnx"
    onnx.save(hostile_model(), path)
    return path


def _feeds(proto):
    rng = np.random.default_rng(3)
    x, i_in = (v.name for v in proto.graph.input)
    return {x: rng.standard_normal((2, 8)).astype(np.float32),
            i_in: rng.integers(-50, 50, (2, 8)).astype(np.int32)}


def _syntax_check(cc: list[str], path: Path, flags: list[str]) -> None:
    res = subprocess.run([*cc, "-std=c11", "-fopenmp", "-fsyntax-only", *flags, str(path)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]


@pytest.mark.parametrize("target", ["host", pytest.param("linux-arm64", marks=pytest.mark.slow)])
def test_hostile_names_compile_safely_and_match_onnxruntime(hostile_file, target, tmp_path):
    tgt = TARGETS[target]
    if target != "host":
        assert shutil.which(tgt.compiler()[0]), "no cross compiler: run scripts/setup-apt.sh"
        assert tgt.launcher() is not None, "no qemu-aarch64: run scripts/setup-apt.sh"
    proto = onnx.load(hostile_file)
    art = compile_model(str(hostile_file), target=target, output_dir=tmp_path / "art")
    sources = sorted([*art.glob("*.c"), *art.glob("*.h")])
    assert {p.name for p in sources} >= ({"model.c"} if target == "host" else
                                         {"model.c", "runner.c"})
    for path in sources:
        assert_no_model_text(path.read_text(), path.name)
    if target == "host":
        _syntax_check(tgt.compiler(), art / "model.c", blas_flags()[:1])
    else:
        for name in ("model.c", "runner.c"):
            _syntax_check(tgt.compiler(), art / name, ["-I", str(art)])
        info = subprocess.run([*tgt.launcher(), str(art / "model.run"), "--info"],
                              capture_output=True, check=True).stdout
        # --info prints the names themselves (the 1 MB one cut to NAME_LIMIT bytes + "...")
        x_name = proto.graph.input[0].name
        assert text_bytes(INJECTION) in info and text_bytes("@OUT_NAMES@") in info
        assert text_bytes(x_name)[: runner.NAME_LIMIT] + b"...\n" in info
    sess = InferenceSession(art)
    assert [a.name for a in sess.get_inputs()] == [v.name for v in proto.graph.input]
    assert [a.name for a in sess.get_outputs()] == [v.name for v in proto.graph.output]
    feeds = _feeds(proto)
    want = run_ort(proto, feeds)
    got = sess.run(None, feeds)
    for o, g in zip(proto.graph.output, got, strict=True):
        np.testing.assert_allclose(g, want[o.name], rtol=1e-3, atol=1e-4)


# -- non-UTF-8 text: refused with one line -----------------------------------------------------


def _with_raw_bytes(proto: onnx.ModelProto, marker: bytes, raw: bytes) -> bytes:
    data = proto.SerializeToString()
    assert data.count(marker) >= 1 and len(marker) == len(raw)
    return data.replace(marker, raw)


def _small(name: str = "x", mode: str = "nearest") -> onnx.ModelProto:
    graph = helper.make_graph(
        [helper.make_node("Resize", [name, "", "sc"], ["y"], mode=mode)], "g",
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, 1, 2, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 4, 4])],
        [numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "sc")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    return model


@pytest.mark.parametrize("where", ["name", "attribute", "attribute_text"])
def test_non_utf8_or_hostile_attribute_is_refused_in_one_line(where, tmp_path, capsys):
    """Protobuf string fields (names) must be UTF-8: the load is refused. Attribute strings
    are bytes fields, so they load; code generation then refuses the node (a hostile UTF-8
    mode is not one Resize knows)."""
    if where == "name":
        data = _with_raw_bytes(_small(name="xQQQQ"), b"QQQQ", b"\xff\xfe\x80Q")
    elif where == "attribute":
        data = _with_raw_bytes(_small(mode="nearesQQQ"), b"QQQ", b"\xff\x80\n")
    else:
        data = _small(mode=hostile(0)).SerializeToString()
    path = tmp_path / "m.onnx"
    path.write_bytes(data)
    assert main(["compile", str(path), "-o", str(tmp_path / "art"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: "), err[-500:]
    assert ("UTF-8" in last) if where != "attribute_text" else ("(Resize): mode=" in last)
    assert err.count("\n") == 1, err
    assert not (tmp_path / "art").exists()
