"""``dnnfusion profile`` measures on this machine; plan/compile use the numbers; a missing or
corrupted database file is one clear line and the analytic model still plans."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from dnnfusion.cli import main
from profiling.device import host_device_class
from tests.compiler_core.planner.graphs import make_model, node, tensor, weight


@pytest.fixture
def model_path(tmp_path):
    m = make_model(
        [
            node("MatMul", ["x", "w"], ["mm"]),
            node("Relu", ["mm"], ["r"]),
            node("Reshape", ["r", "shape"], ["out"]),
        ],
        [tensor("x", (16, 32))],
        [tensor("out", (512,))],
        [weight("w", (32, 32)), numpy_helper.from_array(np.array([512], np.int64), "shape")],
    )
    path = tmp_path / "mlp.onnx"
    onnx.save(m, path)
    return path


@pytest.fixture
def db_url(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'data' / 'dnnfusion.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    return url


@pytest.mark.slow  # builds and times micro-benchmarks
def test_profile_measures_then_skips_and_plan_uses_it(model_path, db_url, tmp_path, capsys):
    summary = tmp_path / "s.json"
    args = ["profile", "--device", "host", "--model", str(model_path), "--min-ms", "5",
            "--json", str(summary)]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "[profile] mlp.onnx (1/1) #1 MatMul | Relu+Reshape: fused" in err
    (row,) = json.loads(summary.read_text())
    assert row["device_class"] == host_device_class().key
    assert (row["pairs_measured"], row["benchmarks_run"], row["by_source"]["analytic"]) == (
        1, 1, 0)
    assert row["largest_fusion_slowdown"] > 0

    assert main(args) == 0  # measured already: nothing runs
    (row,) = json.loads(summary.read_text())
    assert (row["benchmarks_run"], row["already_measured"], row["pairs_measured"]) == (0, 1, 1)

    assert main(["profile", "--list"]) == 0
    out = capsys.readouterr().out
    assert host_device_class().key in out and "1 entries, 1 signatures" in out

    plan = tmp_path / "PLAN.json"
    assert main(["plan", str(model_path), "-q", "--json", str(plan)]) == 0
    doc = json.loads(plan.read_text())
    (d,) = doc["profile_decisions"]
    assert d["source"] == "measured" and d["entry_id"] == 1
    assert doc["device_class"] == host_device_class().key
    assert main(["plan", str(model_path), "-q", "--analytic", "--json", str(plan)]) == 0
    assert {d["source"] for d in json.loads(plan.read_text())["profile_decisions"]} == {
        "analytic"}


def test_profile_from_a_plan_file_and_compile_report(model_path, db_url, tmp_path, capsys):
    plan = tmp_path / "PLAN.json"
    assert main(["plan", str(model_path), "-q", "--json", str(plan)]) == 0
    assert main(["profile", "--plan", str(plan), "--min-ms", "5", "-q"]) == 0
    art = tmp_path / "art"
    key = host_device_class().key
    assert main(["compile", str(model_path), "-o", str(art), "-q", "--no-compare",
                 "--device-class", key]) == 0
    report = json.loads((art / "report.json").read_text())
    # When this machine measured "separate", the planner weighs the pair again when it merges
    # blocks and weighs a second pair analytically.
    measured = [x for x in report["profile_decisions"] if x["source"] == "measured"]
    assert measured and len({(x["entry_id"], x["fused"]) for x in measured}) == 1, measured
    d = measured[-1]
    assert d["fused_us"] > 0 and d["separate_us"] > 0
    assert len(report["profile_decisions"]) == 1 or not d["fused"]
    assert report["device_class"] == key
    assert "profile" in capsys.readouterr().out


@pytest.mark.parametrize("state", ["missing", "corrupted"])
def test_a_bad_database_file_is_one_line_and_the_analytic_model_plans(
        state, model_path, db_url, tmp_path, capsys):
    path = tmp_path / "data" / "dnnfusion.db"
    if state == "corrupted":
        path.parent.mkdir()
        path.write_bytes(b"this is not an SQLite database" * 100)
    plan = tmp_path / "PLAN.json"
    assert main(["plan", str(model_path), "-q", "--device-class", "some-phone",
                 "--json", str(plan)]) == 0
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and err[0].startswith("note: profiling database")
    assert ("does not exist" if state == "missing" else "file is not a database") in err[0]
    doc = json.loads(plan.read_text())
    assert doc["fused_blocks"] == 1 and doc["device_class"] is None
    assert {d["source"] for d in doc["profile_decisions"]} == {"analytic"}
    assert (path.read_bytes()[:10] == b"this is no") if state == "corrupted" else (
        not path.exists())  # nothing created, nothing overwritten
    # Reading what the database holds is an error (exit 2, one line).
    assert main(["profile", "--list"]) == 2


def test_bad_device_class_key_is_exit_2(model_path, db_url, capsys):
    assert main(["plan", str(model_path), "--device-class", "Bad Key!"]) == 2
    assert capsys.readouterr().err.strip().startswith("error: --device-class")


def test_input_shapes_belong_to_the_model_before_them(model_path, tmp_path):
    from dnnfusion.cli import build_parser
    from dnnfusion.commands.profile import _jobs

    other = tmp_path / "other.onnx"
    other.write_bytes(model_path.read_bytes())
    args = build_parser().parse_args([
        "profile", "--input-shape", "all=2", "--model", str(model_path), "--input-shape",
        "x=16x32", "--model", str(other), "--input-shape", "x=8x32"])
    assert [(j["model"], j["input_shapes"]) for j in _jobs(args)] == [
        (str(model_path), {"all": (2,), "x": (16, 32)}),
        (str(other), {"all": (2,), "x": (8, 32)}),
    ]


def test_a_model_that_fails_does_not_stop_the_others(model_path, db_url, tmp_path, capsys):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not onnx")
    summary = tmp_path / "s.json"
    assert main(["profile", "--model", str(bad), "--model", str(model_path), "--min-ms", "5",
                 "-q", "--json", str(summary)]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error:")]
    assert len(err) == 1 and err[0].startswith("error: bad.onnx:")
    assert [r["model"] for r in json.loads(summary.read_text())] == ["mlp.onnx"]
