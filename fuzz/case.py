"""A fuzz input: the uploaded/planned file plus the files next to it, and how it is saved.

A case is ``main`` (the bytes given to ``dnnfusion plan`` and uploaded as ``filename``) and
``extra`` (files written next to it for ``plan``, e.g. external weights). ``shapes`` are the
``--input-shape`` pins ``plan`` gets. Saved cases are directories under
``fuzz/corpus/regressions/<id>/``: ``case.json`` plus the files.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent
REGRESSIONS = ROOT / "corpus" / "regressions"


@dataclass
class Case:
    main: bytes
    filename: str = "model.onnx"
    extra: dict[str, bytes] = field(default_factory=dict)
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    origin: str = ""  # seed name and mutations applied, for the report

    def digest(self) -> str:
        h = hashlib.sha256(self.filename.encode() + b"\0" + self.main)
        for name in sorted(self.extra):
            h.update(b"\0" + name.encode() + b"\0" + self.extra[name])
        return h.hexdigest()[:16]

    def plan_argv(self, path: Path) -> list[str]:
        argv = ["plan", "-q", str(path)]
        for name, dims in self.shapes.items():
            argv += ["--input-shape", f"{name}={'x'.join(map(str, dims))}"]
        return argv


def _safe(name: str) -> str:
    """A member name usable as a file name inside the case directory (mutations produce names
    like ``../x``; they are stored encoded, never as paths)."""
    return name.encode().hex()


def save_case(case: Case, target: str, outcome: dict, directory: Path = REGRESSIONS) -> Path:
    """Write ``case`` with the failing ``outcome`` of ``target`` (``plan``/``upload``)."""
    out = directory / f"{target}-{case.digest()}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "main.bin").write_bytes(case.main)
    for name, data in case.extra.items():
        (out / f"extra-{_safe(name)}.bin").write_bytes(data)
    meta = {
        "target": target,
        "filename": case.filename,
        "extra": sorted(case.extra),
        "shapes": {k: list(v) for k, v in case.shapes.items()},
        "origin": case.origin,
        "outcome": outcome,
    }
    (out / "case.json").write_text(json.dumps(meta, indent=1) + "\n")
    return out


def load_case(directory: Path) -> tuple[str, Case]:
    """``(target, case)`` from a directory written by :func:`save_case`."""
    meta = json.loads((directory / "case.json").read_text())
    extra = {n: (directory / f"extra-{_safe(n)}.bin").read_bytes() for n in meta["extra"]}
    case = Case(
        main=(directory / "main.bin").read_bytes(),
        filename=meta["filename"],
        extra=extra,
        shapes={k: tuple(v) for k, v in meta["shapes"].items()},
        origin=meta.get("origin", ""),
    )
    return meta["target"], case


def regression_dirs(directory: Path = REGRESSIONS) -> list[Path]:
    return sorted(p for p in directory.glob("*/") if (p / "case.json").is_file())
