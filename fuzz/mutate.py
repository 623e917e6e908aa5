"""Pick a seed and mutate it: byte-level, protobuf field edits, or packed as an archive."""

from __future__ import annotations

from fuzz.case import Case
from fuzz.choose import Chooser
from fuzz.mutate_archive import mutate_archive
from fuzz.mutate_bytes import mutate_bytes
from fuzz.mutate_proto import mutate_proto

KINDS = ("bytes", "proto", "proto+bytes", "archive", "proto+archive")
WEIGHTS = (3, 4, 1, 1, 1)  # of KINDS: mostly structured edits, which reach deeper code


def mutate(ch: Chooser, seeds: list[Case]) -> Case:
    """A new :class:`Case` derived from one of ``seeds``."""
    seed = ch.choice(seeds)
    kind = ch.choice([k for k, w in zip(KINDS, WEIGHTS, strict=True) for _ in range(w)])
    main, extra, notes = seed.main, dict(seed.extra), []
    if kind.startswith("proto"):
        done = mutate_proto(ch, main, extra)
        if done is not None:
            main, note = done
            notes.append(note)
    if kind in ("bytes", "proto+bytes"):
        main, note = mutate_bytes(ch, main)
        notes.append(note)
    filename = "model.onnx"
    if kind.endswith("archive"):
        main, filename, note = mutate_archive(ch, main, extra)
        notes.append(note)
        extra = {}
    if extra and ch.int(0, 9) == 0:  # external file cut short or missing
        name = ch.choice(sorted(extra))
        if ch.bool():
            del extra[name]
            notes.append(f"{name} missing")
        else:
            extra[name] = extra[name][: len(extra[name]) // 2]
            notes.append(f"{name} truncated")
    return Case(main=main, filename=filename, extra=extra, shapes=dict(seed.shapes),
                origin=f"{seed.origin} [{kind}] " + "; ".join(notes))
