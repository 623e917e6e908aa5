"""service.artifact_view: PLAN.json and one block's C read from a stored artifact tarball."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

from dnfstore.objectstore import LocalObjectStore
from service.artifact_view import ArtifactUnreadable, ArtifactViews, block_spans

C = """/* header */
static int helper(void) {
    return 1;
}

/* block 0: Conv Relu */
DNF_KERNEL static void k0(const dnf_ctx* restrict c) {
    for (;;) {
    }
}

/* block 1: Add */
DNF_KERNEL static void k1(const dnf_ctx* restrict c) {
    x();
}

int dnf_run(void) { return 0; }
"""


def test_block_spans_cut_each_kernel():
    spans = block_spans(C)
    assert sorted(spans) == [0, 1]
    assert C[slice(*spans[0])] == (
        "/* block 0: Conv Relu */\nDNF_KERNEL static void k0(const dnf_ctx* restrict c) {\n"
        "    for (;;) {\n    }\n}")
    assert C[slice(*spans[1])].splitlines()[-2:] == ["    x();", "}"]


def _tarball(path, members: dict[str, bytes]):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"artifact/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _get(views: ArtifactViews, path):
    """The view of the tarball at ``path``, stored in the local directory store of its folder."""
    return views.get(LocalObjectStore(path.parent), path.name)


def test_views_read_plan_and_source(tmp_path):
    plan = {"blocks": [{"id": 0}, {"id": 1}], "unfused_edges": []}
    path = _tarball(tmp_path / "a.tar.gz", {"manifest.json": b"{}", "model.c": C.encode(),
                                             "plan.json": json.dumps(plan).encode(),
                                             "weights.bin": b"\0" * 1000})
    views = ArtifactViews(size=1)
    view = _get(views, path)
    assert view.plan == plan
    assert view.block_source(1).startswith("/* block 1: Add */")
    assert view.block_source(2) is None
    assert _get(views, path) is view  # cached


@pytest.mark.parametrize("members, message", [
    ({"model.c": b""}, "the artifact has no plan.json"),
    ({"plan.json": b"{not json"}, "the artifact's plan.json is not JSON"),
    ({"plan.json": b"[1, 2]"}, "the artifact's plan.json has no blocks"),
])
def test_unreadable_artifacts(tmp_path, members, message):
    path = _tarball(tmp_path / "a.tar.gz", members)
    with pytest.raises(ArtifactUnreadable, match=message):
        _get(ArtifactViews(), path)


def test_not_a_tarball(tmp_path):
    path = tmp_path / "a.tar.gz"
    path.write_bytes(b"garbage")
    with pytest.raises(ArtifactUnreadable, match="cannot be read"):
        _get(ArtifactViews(), path)
