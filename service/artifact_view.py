"""What the report page reads from a stored artifact: PLAN.json and the C of one fused block.

The stored ``artifact.tar.gz`` (workers.artifacts) holds ``artifact/plan.json`` and
``artifact/model.c`` before the large ``weights.bin`` (members are added in name order), so
reading it as a stream (from the local directory or S3: ``dnfstore.objectstore``) stops early.
The last few artifacts read are kept in memory, keyed by the tarball's key, size and version
tag (mtime or ETag).

``model.c`` marks each kernel with a ``/* block N: <ops> */`` comment followed by its function
``kN``; a block's source is that comment through the closing brace of ``kN``.
"""

from __future__ import annotations

import json
import re
import tarfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, BinaryIO

from dnfstore.objectstore import ObjectStore

MAX_MEMBER_BYTES = 64 << 20  # plan.json or model.c larger than this is not read
_WANTED = {"artifact/plan.json": "plan", "artifact/model.c": "source"}
_CACHED = 4
_MARK = re.compile(r"^/\* block (\d+):", re.MULTILINE)


class ArtifactUnreadable(Exception):
    """The artifact has no readable plan.json (too large, missing or not JSON)."""


@dataclass(frozen=True)
class ArtifactView:
    plan: dict[str, Any]
    source: str  # model.c, "" when absent
    block_spans: dict[int, tuple[int, int]]  # block id -> (start, end) offsets in source

    def block_source(self, block_id: int) -> str | None:
        span = self.block_spans.get(block_id)
        return None if span is None else self.source[span[0]:span[1]]


def block_spans(source: str) -> dict[int, tuple[int, int]]:
    """Offsets of every ``/* block N:`` section: its comment through the ``}`` that closes
    the kernel function ``kN`` (a line holding only ``}``)."""
    spans: dict[int, tuple[int, int]] = {}
    for m in _MARK.finditer(source):
        n = int(m.group(1))
        head = source.find(f" k{n}(", m.end())
        if head == -1:
            continue
        close = source.find("\n}\n", head)
        end = len(source) if close == -1 else close + 2
        spans[n] = (m.start(), end)
    return spans


def _read_members(stream: BinaryIO) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    with tarfile.open(fileobj=stream, mode="r|gz") as tar:
        for member in tar:
            key = _WANTED.get(member.name)
            if key is None or not member.isfile():
                continue
            if member.size > MAX_MEMBER_BYTES:
                raise ArtifactUnreadable(f"{member.name.split('/')[-1]} is over "
                                         f"{MAX_MEMBER_BYTES >> 20} MiB")
            f = tar.extractfile(member)
            found[key] = f.read() if f else b""
            if len(found) == len(_WANTED):
                break
    return found


class ArtifactViews:
    """A small thread-safe cache of :class:`ArtifactView` per stored tarball."""

    def __init__(self, size: int = _CACHED) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._views: OrderedDict[tuple[str, int, int], ArtifactView] = OrderedDict()

    def get(self, store: ObjectStore, tarball: str) -> ArtifactView:
        """The view of the artifact stored as ``tarball``; raises :class:`ArtifactUnreadable`,
        and ``ObjectMissing`` / ``StoreUnavailable`` from the store."""
        info = store.info(tarball)
        key = (tarball, info.size, info.tag)
        with self._lock:
            if key in self._views:
                self._views.move_to_end(key)
                return self._views[key]
        with store.open_stream(tarball) as stream:
            view = self._load(stream)
        with self._lock:
            self._views[key] = view
            while len(self._views) > self._size:
                self._views.popitem(last=False)
        return view

    @staticmethod
    def _load(stream: BinaryIO) -> ArtifactView:
        try:
            members = _read_members(stream)
        except (tarfile.TarError, OSError, EOFError) as err:
            raise ArtifactUnreadable(f"the artifact cannot be read ({type(err).__name__})") from None
        if "plan" not in members:
            raise ArtifactUnreadable("the artifact has no plan.json")
        try:
            plan = json.loads(members["plan"])
        except ValueError:
            raise ArtifactUnreadable("the artifact's plan.json is not JSON") from None
        if not isinstance(plan, dict) or not isinstance(plan.get("blocks"), list):
            raise ArtifactUnreadable("the artifact's plan.json has no blocks")
        source = members.get("source", b"").decode("utf-8", "replace")
        return ArtifactView(plan=plan, source=source, block_spans=block_spans(source))
