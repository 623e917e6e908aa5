"""``dnnfusion users create`` / ``dnnfusion keys create`` against an embedded data dir."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dnfstore import migrate
from dnfstore.db import make_engine, make_sessionmaker
from dnfstore.models import User
from dnnfusion.cli import main
from service.crud.users import authenticate
from tests.service.conftest import embedded_settings


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return tmp_path / "data"


def test_users_and_keys(data_dir, capsys):
    d = ["--data-dir", str(data_dir)]
    assert main(["users", "create", "alice", *d]) == 2
    assert "no schema" in capsys.readouterr().err

    settings = embedded_settings(data_dir)
    migrate.upgrade(settings)
    assert main(["users", "create", "alice", *d]) == 0
    assert "created user alice" in capsys.readouterr().out
    assert main(["users", "create", "alice", *d]) == 2
    assert "exists already" in capsys.readouterr().err

    assert main(["keys", "create", "alice", *d]) == 0
    user_key = capsys.readouterr().out.strip()
    assert main(["keys", "create", "alice", "--agent", *d]) == 0
    agent_key = capsys.readouterr().out.strip()
    assert main(["keys", "create", "nobody", *d]) == 2
    assert "no user named" in capsys.readouterr().err

    engine = make_engine(settings)
    with make_sessionmaker(engine)() as session:
        user, key = authenticate(session=session, token=user_key)
        assert (user.name, key.kind) == ("alice", "user")
        assert authenticate(session=session, token=agent_key)[1].kind == "agent"
    engine.dispose()


def test_share_cache_on_and_off(data_dir, capsys):
    d = ["--data-dir", str(data_dir)]
    settings = embedded_settings(data_dir)
    migrate.upgrade(settings)
    assert main(["users", "create", "carol", *d]) == 0
    engine = make_engine(settings)
    sessions = make_sessionmaker(engine)

    def shared() -> bool:
        with sessions() as s:
            return s.scalar(select(User.share_cache).where(User.name == "carol"))

    try:
        assert shared() is False  # the default
        assert main(["users", "share-cache", "carol", "on", *d]) == 0
        assert "carol: compile cache shared with other users on" in capsys.readouterr().out
        assert shared() is True
        assert main(["users", "share-cache", "carol", "off", *d]) == 0
        assert shared() is False
        assert main(["users", "share-cache", "nobody", "on", *d]) == 2
        assert capsys.readouterr().err.strip() == "error: no user named 'nobody'"
        with pytest.raises(SystemExit) as err:
            main(["users", "share-cache", "carol", "yes", *d])
        assert err.value.code == 2
    finally:
        engine.dispose()


def test_verbs_are_registered():
    from dnnfusion.cli import COMMAND_MODULES

    assert {"serve", "users"} <= set(COMMAND_MODULES)
    with pytest.raises(SystemExit) as err:
        main(["serve", "--help"])
    assert err.value.code == 0
