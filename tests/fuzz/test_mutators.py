"""The mutators produce what they claim, from the committed seeds, under both drivers."""

from __future__ import annotations

import io
import random
import tarfile
import zipfile

import onnx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz.case import Case, load_case, save_case
from fuzz.choose import DrawChooser, RandomChooser
from fuzz.mutate import mutate
from fuzz.mutate_archive import mutate_archive
from fuzz.mutate_bytes import BYTE_MUTATORS
from fuzz.mutate_proto import PROTO_MUTATORS, edit_external_data, mutate_proto
from fuzz.seeds import SEEDS, load_seeds


def test_committed_corpus_is_small_and_parses():
    files = [p for p in SEEDS.rglob("*") if p.is_file()]
    assert len(files) >= 60 and sum(p.stat().st_size for p in files) < 300_000
    seeds = load_seeds(real=False)
    for seed in seeds:
        model = onnx.load_from_string(seed.main)
        assert model.graph.node, seed.origin
    assert any(s.extra for s in seeds)  # the external-data seed brings its weights file


def test_byte_mutators_change_the_bytes():
    data = bytes(range(256)) * 4
    for fn in BYTE_MUTATORS:
        changed = 0
        for i in range(20):
            out, note = fn(RandomChooser(random.Random(i)), data)
            changed += out != data
            assert note
        assert changed >= 15, fn.__name__


def test_every_proto_mutator_applies_and_serializes():
    seed = next(s for s in load_seeds(real=False) if s.origin == "built_convnet")
    for fn in PROTO_MUTATORS:
        applied = changed = 0
        for i in range(30):
            model = onnx.load_from_string(seed.main)
            before = model.SerializeToString()
            ch = RandomChooser(random.Random(i))
            note = fn(ch, model, {}) if fn is edit_external_data else fn(ch, model)
            if note:
                applied += 1
                changed += model.SerializeToString() != before  # may rewrite the same value
        assert applied >= 20 and changed >= 15, fn.__name__


def test_external_data_edits_point_outside_or_carry_their_file():
    seed = next(s for s in load_seeds(real=False) if s.origin == "built_convnet")
    locations = set()
    for i in range(60):
        model = onnx.load_from_string(seed.main)
        extra: dict[str, bytes] = {}
        edit_external_data(RandomChooser(random.Random(i)), model, extra)
        for t in model.graph.initializer:
            locations |= {e.value for e in t.external_data if e.key == "location"}
    assert {"../x", "/etc/passwd", "weights.bin"} <= locations


def test_archives_are_zip_or_tar_gz_with_hostile_members():
    seed = next(s for s in load_seeds(real=False) if s.extra)
    kinds, notes = set(), set()
    for i in range(80):
        data, filename, note = mutate_archive(RandomChooser(random.Random(i)), seed.main,
                                              dict(seed.extra))
        notes.add(note.split(",")[0])
        if "truncated" in note:
            continue
        if data[:2] == b"PK":
            kinds.add("zip")
            zipfile.ZipFile(io.BytesIO(data))  # opens (claims may be edited)
        else:
            kinds.add("tar.gz")
            assert data[:2] == b"\x1f\x8b"
    assert kinds == {"zip", "tar.gz"}
    assert any("non-UTF-8" in n for n in notes) and any("tar size field" in n for n in notes)


def test_non_utf8_tar_member_names_are_really_written():
    seed = next(s for s in load_seeds(real=False) if s.extra)
    for i in range(200):
        data, _, note = mutate_archive(RandomChooser(random.Random(i)), seed.main, {})
        if note == "archive non-UTF-8 tar name":
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz", encoding="utf-8",
                              errors="surrogateescape") as tf:
                names = tf.getnames()
            assert any(any(0xDC80 <= ord(c) <= 0xDCFF or c == "\x00" for c in n) or
                       not n.isascii() for n in names), names
            return
    raise AssertionError("no non-UTF-8 tar name in 200 draws")


def test_mutation_is_reproducible_and_saved_cases_load(tmp_path):
    seeds = load_seeds(real=False)
    a = mutate(RandomChooser(random.Random("7:3")), seeds)
    b = mutate(RandomChooser(random.Random("7:3")), seeds)
    assert a == b
    path = save_case(a, "plan", {"ok": False, "code": 1, "detail": "x"}, tmp_path)
    target, back = load_case(path)
    assert target == "plan" and back == a


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_hypothesis_driver_makes_cases(data):
    seeds = load_seeds(real=False)
    case = mutate(DrawChooser(data.draw), seeds)
    assert isinstance(case, Case) and case.origin
    if case.filename == "model.onnx" and "[proto]" in case.origin:
        # a structured edit keeps a parseable protobuf (or is recorded as not applied)
        assert mutate_proto(DrawChooser(data.draw), case.main, {}) is not None or \
            "unserializable" in case.origin
