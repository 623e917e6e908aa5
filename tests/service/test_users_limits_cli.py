"""``dnnfusion users limits / show / list`` against an embedded data dir: exit codes, one-line
errors, what they print, and that the API enforces what they set."""

from __future__ import annotations

import re

import pytest

from dnfstore import migrate
from dnfstore.db import make_engine, make_sessionmaker
from dnfstore.models import Compilation, Model
from dnnfusion.cli import main
from service.crud.users import get_user_by_name
from tests.service import onnx_models as m
from tests.service.conftest import add_user, embedded_settings, headers
from tests.service.helpers import upload


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    for name in ("CONCURRENT_COMPILATIONS", "STORED_BYTES", "UPLOADS_PER_MINUTE"):
        monkeypatch.delenv(f"DNNFUSION_DEFAULT_MAX_{name}", raising=False)
    return tmp_path / "data"


@pytest.fixture
def db(data_dir):
    settings = embedded_settings(data_dir)
    migrate.upgrade(settings)
    add_user(settings, "alice")
    add_user(settings, "bob")
    return ["--data-dir", str(data_dir)]


def _one_line_error(capsys, *words: str) -> None:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err
    for w in words:
        assert w in err, err


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--max-stored-bytes", "10X"], ["--max-stored-bytes", "'10X'", "not a size"]),
        (["--max-stored-bytes=-5G"], ["'-5G'"]),
        (["--max-stored-bytes", "9" * 30], ["at most 9223372036854775807 bytes"]),
        (["--max-stored-bytes", "9000000000T"], ["'9000000000T'", "at most"]),
        (["--max-concurrent", "-1"], ["--max-concurrent", "'-1'", "whole number"]),
        (["--max-concurrent", "two"], ["'two'"]),
        (["--max-uploads-per-minute", "3000000000"], ["--max-uploads-per-minute", "0..2147483647"]),
        ([], ["nothing to set"]),
    ],
)
def test_bad_values_exit_2_with_one_line(db, capsys, argv, words):
    assert main(["users", "limits", "alice", *argv, *db]) == 2
    _one_line_error(capsys, *words)
    assert main(["users", "show", "alice", *db]) == 0
    assert "(own)" not in capsys.readouterr().out  # nothing was stored


def test_unknown_user_and_missing_schema_exit_2(data_dir, db, capsys, tmp_path):
    for verb in (["limits", "nobody", "--reset"], ["show", "nobody"]):
        assert main(["users", *verb, *db]) == 2
        _one_line_error(capsys, "no user named 'nobody'")
    empty = ["--data-dir", str(tmp_path / "empty")]
    for verb in (["limits", "alice", "--reset"], ["show", "alice"], ["list"]):
        assert main(["users", *verb, *empty]) == 2
        _one_line_error(capsys, "no schema")


def _row(out: str, field: str) -> list[str]:
    """The columns of ``field``'s line in ``users show`` output (split on 2+ spaces)."""
    line = next(x for x in out.splitlines() if x.strip().startswith(field))
    return re.split(r"\s{2,}", line.strip())


def test_set_show_and_list(db, data_dir, capsys):
    assert main(["users", "limits", "alice", "--max-concurrent", "3",
                 "--max-stored-bytes", "10G", *db]) == 0
    out = capsys.readouterr().out
    assert out.startswith("user alice (")
    assert _row(out, "max_concurrent_compilations") == ["max_concurrent_compilations",
                                                        "3 (own)", "0"]
    assert _row(out, "max_stored_bytes") == ["max_stored_bytes", "10.0 GiB (own)", "0 B"]
    assert _row(out, "max_uploads_per_minute") == ["max_uploads_per_minute", "600 (default)",
                                                   "0"]

    # What counts: alice's model bytes and her queued job.
    settings = embedded_settings(data_dir)
    engine = make_engine(settings)
    with make_sessionmaker(engine)() as s:
        alice = get_user_by_name(session=s, name="alice")
        model = Model(owner_id=alice.id, name="m.onnx", sha256="0" * 64, size_bytes=3 * 1024**2,
                      upload_format="onnx", storage_path="models/x", model_file="model.onnx")
        s.add(model)
        s.flush()
        s.add(Compilation(owner_id=alice.id, model_id=model.id, target="host", state="queued"))
        s.commit()
    engine.dispose()
    assert main(["users", "show", "alice", *db]) == 0
    out = capsys.readouterr().out
    assert _row(out, "max_concurrent_compilations")[2] == "1"
    assert _row(out, "max_stored_bytes")[2] == "3.0 MiB"
    assert _row(out, "max_uploads_per_minute")[2] == "1"

    assert main(["users", "list", *db]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert re.split(r"\s{2,}", lines[0]) == ["user", "concurrent", "stored", "uploads/min"]
    assert re.split(r"\s{2,}", lines[1].strip()) == ["alice", "1/3*", "3.0 MiB/10.0 GiB*", "1/600"]
    assert re.split(r"\s{2,}", lines[2].strip()) == ["bob", "0/64", "0 B/1.0 TiB", "0/600"]
    assert lines[3].startswith("(2 users;")

    # 'default' puts one limit back; --reset all those not given.
    assert main(["users", "limits", "alice", "--max-concurrent", "default", *db]) == 0
    out = capsys.readouterr().out
    assert _row(out, "max_concurrent_compilations")[1] == "64 (default)"
    assert _row(out, "max_stored_bytes")[1] == "10.0 GiB (own)"
    assert main(["users", "limits", "alice", "--reset", "--max-uploads-per-minute", "5",
                 *db]) == 0
    out = capsys.readouterr().out
    assert _row(out, "max_stored_bytes")[1] == "1.0 TiB (default)"
    assert _row(out, "max_uploads_per_minute")[1] == "5 (own)"


def test_the_api_enforces_what_the_cli_set(embedded, monkeypatch, capsys):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    d = ["--data-dir", str(embedded.settings.data_dir)]
    r = upload(embedded.client, embedded.alice, m.tiny_bytes(1))
    assert r.status_code == 201, r.text
    assert main(["users", "limits", "alice", "--max-concurrent", "0",
                 "--max-uploads-per-minute", "1", *d]) == 0
    capsys.readouterr()
    job = embedded.client.post("/api/v1/compilations", headers=headers(embedded.alice),
                               json={"model_id": r.json()["id"]})
    assert job.status_code == 429 and "max_concurrent_compilations is 0" in job.json()["detail"]
    again = upload(embedded.client, embedded.alice, m.tiny_bytes(2))
    assert again.status_code == 429 and "max_uploads_per_minute is 1" in again.json()["detail"]
    assert 1 <= int(again.headers["retry-after"]) <= 60
    assert upload(embedded.client, embedded.bob, m.tiny_bytes(2)).status_code == 201
