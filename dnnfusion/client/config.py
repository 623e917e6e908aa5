"""Where the client finds the service's URL and the API key.

First found wins: the argument given to :class:`~dnnfusion.client.Client`, then the environment
(``DNNFUSION_URL``, ``DNNFUSION_API_KEY``), then the config file
``$XDG_CONFIG_HOME/dnnfusion/client.toml`` (``~/.config/dnnfusion/client.toml`` when
``XDG_CONFIG_HOME`` is unset; ``DNNFUSION_CLIENT_CONFIG`` names another file)::

    url = "http://127.0.0.1:8000"
    api_key = "dnf_..."

The URL is the server's root; a trailing ``/api/v1`` is accepted and dropped.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from dnnfusion.client.errors import AuthenticationError, DnnfusionError

DEFAULT_URL = "http://127.0.0.1:8000"
API_PREFIX = "/api/v1"


@dataclass(frozen=True)
class ClientConfig:
    url: str  # the server root, no trailing slash, e.g. "http://127.0.0.1:8000"
    api_key: str


def config_path() -> Path:
    """The config file looked at (it need not exist)."""
    named = os.environ.get("DNNFUSION_CLIENT_CONFIG")
    if named:
        return Path(named)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "dnnfusion" / "client.toml"


def _read_file(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise DnnfusionError(f"config file {path}: {err}") from None
    out = {}
    for name in ("url", "api_key"):
        value = data.get(name)
        if value is not None and not isinstance(value, str):
            raise DnnfusionError(f"config file {path}: {name} must be a string")
        if value:
            out[name] = value
    return out


def normalize_url(url: str) -> str:
    """``url`` as the server root: scheme required, no trailing slash or ``/api/v1``."""
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise DnnfusionError(f"server URL {url!r}: expected http://HOST[:PORT] or https://...")
    if url.endswith(API_PREFIX):
        url = url[: -len(API_PREFIX)]
    return url


def resolve(url: str | None = None, api_key: str | None = None) -> ClientConfig:
    """The URL and key to use (see the module docstring for the order).

    Raises :class:`AuthenticationError` when no key is found anywhere, and
    :class:`DnnfusionError` for a malformed URL or config file.
    """
    file_values: dict[str, str] | None = None

    def from_file(name: str) -> str | None:
        nonlocal file_values
        if file_values is None:
            file_values = _read_file(config_path())
        return file_values.get(name)

    chosen_url = url or os.environ.get("DNNFUSION_URL") or from_file("url") or DEFAULT_URL
    key = api_key or os.environ.get("DNNFUSION_API_KEY") or from_file("api_key")
    if not key:
        raise AuthenticationError(
            f"no API key: pass api_key (--api-key), set DNNFUSION_API_KEY, or put api_key in "
            f"{config_path()}"
        )
    return ClientConfig(url=normalize_url(chosen_url), api_key=key.strip())
