"""Where the client takes its URL and key from: argument, then environment, then the config
file; a missing key or a malformed URL/file is one clear error."""

from __future__ import annotations

import pytest

from dnnfusion.client import AuthenticationError, DnnfusionError
from dnnfusion.client.config import DEFAULT_URL, config_path, resolve


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    for name in ("DNNFUSION_URL", "DNNFUSION_API_KEY", "DNNFUSION_CLIENT_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    return tmp_path


def write_config(text: str):
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_order_argument_environment_file(monkeypatch, isolated):
    assert config_path() == isolated / "xdg" / "dnnfusion" / "client.toml"
    write_config('url = "http://file:1"\napi_key = "file-key"\n')
    assert resolve() == resolve(None, None)
    assert (resolve().url, resolve().api_key) == ("http://file:1", "file-key")
    monkeypatch.setenv("DNNFUSION_URL", "http://env:2/api/v1/")
    monkeypatch.setenv("DNNFUSION_API_KEY", "env-key")
    assert (resolve().url, resolve().api_key) == ("http://env:2", "env-key")
    got = resolve("https://arg:3", "arg-key")
    assert (got.url, got.api_key) == ("https://arg:3", "arg-key")


def test_default_url_and_missing_key():
    assert resolve(api_key="k").url == DEFAULT_URL
    with pytest.raises(AuthenticationError, match="no API key"):
        resolve()


def test_named_config_file(monkeypatch, tmp_path):
    other = tmp_path / "team.toml"
    other.write_text('api_key = "team"\n')
    monkeypatch.setenv("DNNFUSION_CLIENT_CONFIG", str(other))
    assert resolve().api_key == "team"


@pytest.mark.parametrize(
    ("text", "message"),
    [("api_key = [1]\n", "api_key must be a string"), ("url = \n", "client.toml")],
)
def test_malformed_config_file(text, message):
    write_config(text)
    with pytest.raises(DnnfusionError, match=message):
        resolve()


def test_url_needs_a_scheme():
    with pytest.raises(DnnfusionError, match="expected http"):
        resolve("localhost:8000", "k")


def test_the_client_loads_nothing_of_the_service_or_compiler():
    import subprocess
    import sys

    code = (
        "import sys, dnnfusion.client; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'compiler_core', 'service', "
        "'workers', 'profiling', 'onnx', 'onnxruntime', 'numpy', 'fastapi', 'sqlalchemy'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"
