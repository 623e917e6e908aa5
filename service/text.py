"""Untrusted text in messages: names cut to a bounded length, server paths removed.

A hostile client controls file names, archive member names, ONNX names, JSON keys and query
values; none of them is echoed back longer than a few dozen characters, and no error text
leaves the API with an absolute path of this server in it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable


def short(text: str, limit: int = 80) -> str:
    """``text`` itself, or its first ``limit`` characters + ``…`` and the original length.

    >>> short("x" * 5000)[-20:]
    'xxx… (5000 characters)'
    """
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text)} characters)"


def one_line(text: str, limit: int = 1000) -> str:
    """Whitespace runs (newlines too) collapsed to one space, cut at ``limit`` characters."""
    return short(" ".join(text.split()), limit)


def scrub_paths(text: str, roots: Iterable[str | os.PathLike[str]]) -> str:
    """``text`` with every occurrence of the directories ``roots`` (and anything below them,
    up to the next quote, blank, comma, colon, semicolon or parenthesis) replaced by
    ``<server path>``."""
    for root in sorted(
        {os.fspath(r) for r in roots if os.fspath(r) not in ("", "/")}, key=len, reverse=True
    ):
        start = text.find(root)
        while start != -1:
            end = start + len(root)
            while end < len(text) and text[end] not in "'\" \t\n,;:)":
                end += 1
            text = f"{text[:start]}<server path>{text[end:]}"
            start = text.find(root, start + len("<server path>"))
    return text
