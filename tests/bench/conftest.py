import pytest


@pytest.fixture(scope="session")
def zoo_dir(tmp_path_factory):
    """A fresh zoo cache for the session, so tests exercise the builders, not old files."""
    return tmp_path_factory.mktemp("zoo")


@pytest.fixture
def fresh_zoo(zoo_dir, monkeypatch):
    monkeypatch.setenv("DNNFUSION_ZOO_DIR", str(zoo_dir))
    from bench.zoo import ZOO

    return ZOO
