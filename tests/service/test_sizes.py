"""service/sizes.py: byte counts as people write them (binary units)."""

from __future__ import annotations

import pytest

from service.sizes import format_bytes, parse_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", 0), ("123", 123), ("10G", 10737418240), ("10GB", 10737418240),
     ("10gib", 10737418240), ("500M", 524288000), ("1.5K", 1536), (" 2 T ", 2199023255552),
     ("9223372036854775807", 9223372036854775807), ("7B", 7)],
)
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "G", "10X", "-1", "1e9", "10 G B", "10iB", "ten"])
def test_parse_size_refuses(text):
    with pytest.raises(ValueError, match="is not a size"):
        parse_size(text)


@pytest.mark.parametrize(
    ("n", "expected"),
    [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (3 * 1024**2, "3.0 MiB"),
     (10 * 1024**3, "10.0 GiB"), (1024**4, "1.0 TiB")],
)
def test_format_bytes(n, expected):
    assert format_bytes(n) == expected
