"""``ProfilingCostModel``: the planner's "profile" cells decided by measured latencies.

For a candidate (``first``, ``second``) it computes the fusion signature
(:func:`compiler_core.bench.signature.fusion_signature`, with this model's thread count and the
current ``CODEGEN_VERSION``) and answers, on its device class:

1. **measured**: the newest entry with exactly this signature decides (its medians);
2. **nearest**: else the nearest entry with the same structure (same ops, wiring, attributes,
   dtype, threads and code-generator version; other shapes). Its shapes must list as many
   tensors with the same ranks; the distance is the largest ``|log2(d / d')|`` over all
   dimensions ``d`` of the candidate and ``d'`` of the entry (0 only matches 0), and an entry
   counts only within :data:`NEAREST_LIMIT` = 1.0 (every dimension within a factor of 2).
   Ties go to the smaller sum of ``|log2|``, then the newest entry. The entry's fused/separate
   ratio decides; the latencies reported are its medians scaled by the ratio of element
   counts (candidate / entry);
3. **analytic**: else :class:`~compiler_core.planner.cost.AnalyticCostModel` decides and the
   signature is remembered as a profiling request, written by :meth:`flush` (one transaction)
   for the device farm.

In 1 and 2 a measurement refuses a fusion only when the fused median is slower than the
separate one by more than the noise, :data:`TIE_PERCENT` (2%) and :data:`TIE_US` (0.1 µs):
within it the two are a tie and the fusion stands (one kernel fewer, no intermediate written).

Lookups are cached: one query per distinct structure per plan (it returns the exact
signature's entries too), in one read session per plan; a database error
during planning turns the model analytic for the rest of the plan (``warnings`` says why).
Entries of other code-generator versions never match: bumping ``CODEGEN_VERSION`` invalidates
every number.
"""

from __future__ import annotations

import math
from collections.abc import Collection

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from compiler_core.bench.signature import FusionSignature, fusion_signature
from compiler_core.ir.ecg import ECG
from compiler_core.planner.cost import AnalyticCostModel, CostModel, Profitability
from profiling import queries
from profiling.candidate import StoredCandidate
from profiling.device import DeviceClassInfo
from profiling.executable import stored_candidate

NEAREST_LIMIT = 1.0
TIE_PERCENT = 2.0
TIE_US = 0.1


def measured_fuse(fused_us: float, separate_us: float) -> bool:
    """Whether measured medians say fuse: not slower than separate beyond the noise."""
    return fused_us - separate_us <= max(TIE_US, separate_us * TIE_PERCENT / 100)


def shape_distance(a, b) -> tuple[float, float] | None:
    """(max, sum) of ``|log2(d / d')|`` over matching dimensions, None when the shape lists
    differ in length or ranks or a zero meets a non-zero."""
    if len(a) != len(b):
        return None
    worst = total = 0.0
    for sa, sb in zip(a, b, strict=True):
        if len(sa) != len(sb):
            return None
        for x, y in zip(sa, sb, strict=True):
            if x == y:
                continue
            if x <= 0 or y <= 0:
                return None
            d = abs(math.log2(x / y))
            worst, total = max(worst, d), total + d
    return worst, total


def _numel(shapes) -> int:
    return sum(math.prod(s) for s in shapes) or 1


class ProfilingCostModel:
    """A :class:`~compiler_core.planner.cost.CostModel` backed by the profiling database
    (rules in the module docstring). ``sessions``: a session factory on a migrated database;
    ``device_class``: the class key whose numbers decide; ``threads``: the thread count the
    artifact will run with (part of every signature)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        device_class: str,
        *,
        threads: int,
        fallback: CostModel | None = None,
        class_info: DeviceClassInfo | None = None,
    ) -> None:
        self.sessions = sessions
        self.device_class = device_class
        self.threads = int(threads)
        self.fallback = fallback or AnalyticCostModel()
        self.class_info = class_info
        self.name = f"profiling:{device_class}"
        self.warnings: list[str] = []
        self.counts = {"measured": 0, "nearest": 0, "analytic": 0}
        self._class_id: int | None = None
        self._class_loaded = False
        self._exact: dict[str, queries.EntrySummary | None] = {}
        self._structure: dict[str, list[queries.EntrySummary]] = {}
        self._wanted: dict[str, FusionSignature] = {}
        self._candidates: dict[str, StoredCandidate | None] = {}  # what an agent runs
        self._broken = False
        self._session: Session | None = None

    # -- database --------------------------------------------------------------------------
    def _reader(self) -> Session:
        """One session for every lookup of a plan (closed by :meth:`flush`/:meth:`close`):
        a connection checkout and its ping per lookup cost more than the query."""
        if self._session is None:
            self._session = self.sessions()
        return self._session

    def close(self) -> None:
        """End the lookup session (its read transaction)."""
        if self._session is not None:
            self._session.close()
            self._session = None
    def _class(self, session: Session) -> int | None:
        if not self._class_loaded:
            dc = queries.get_device_class(session, key=self.device_class)
            self._class_id = dc.id if dc is not None else None
            self._class_loaded = True
        return self._class_id

    def _lookup(self, sig: FusionSignature) -> tuple[queries.EntrySummary, str] | None:
        # One query per distinct structure: its entries hold the exact signature's too.
        if sig.structure_key not in self._structure:
            session = self._reader()
            cid = self._class(session)
            self._structure[sig.structure_key] = [] if cid is None else (
                queries.entries_of_structure(session, device_class_id=cid,
                                             structure_key=sig.structure_key,
                                             version=sig.version))
        if sig.key not in self._exact:
            same = [e for e in self._structure[sig.structure_key] if e.signature == sig.key]
            self._exact[sig.key] = same[-1] if same else None  # the newest
        exact = self._exact[sig.key]
        if exact is not None:
            return exact, "measured"
        best = None
        for e in self._structure.get(sig.structure_key, []):
            d = shape_distance(sig.shapes, [tuple(s) for s in e.shapes])
            if d is None or d[0] > NEAREST_LIMIT:
                continue
            rank = (d[0], d[1], -e.id)
            if best is None or rank < best[0]:
                best = (rank, e)
        return (best[1], "nearest") if best is not None else None

    # -- CostModel ---------------------------------------------------------------------------
    def signature(self, ecg: ECG, first: Collection[int], second: Collection[int]
                  ) -> FusionSignature:
        return fusion_signature(ecg, first, second, self.threads)

    def profitability(
        self, ecg: ECG, first: Collection[int], second: Collection[int]
    ) -> Profitability:
        sig = self.signature(ecg, first, second)
        hit = None
        if not self._broken:
            try:
                hit = self._lookup(sig)
            except SQLAlchemyError as e:
                self._broken = True
                self.warnings.append(f"profiling database failed during planning, analytic "
                                     f"model from here on: {_line(e)}")
        if hit is not None:
            entry, source = hit
            scale = 1.0
            if source == "nearest":
                scale = _numel(sig.shapes) / _numel([tuple(s) for s in entry.shapes])
            self.counts[source] += 1
            f, s = entry.fused_median_us, entry.separate_median_us
            return Profitability(f * scale, s * scale, source, entry.id, measured_fuse(f, s))
        self.counts["analytic"] += 1
        if sig.key not in self._wanted:
            self._wanted[sig.key] = sig
            self._candidates[sig.key] = stored_candidate(ecg, first, second)
        p = self.fallback.profitability(ecg, first, second)
        return Profitability(p.fused_us, p.separate_us, "analytic", None)

    def flush(self) -> int:
        """Record a profiling request for every signature the model had no number for (one
        transaction); returns how many were new. Database errors become ``warnings``."""
        self.close()
        wanted, self._wanted = list(self._wanted.values()), {}
        candidates, self._candidates = self._candidates, {}
        if not wanted or self._broken:
            return 0
        try:
            with self.sessions() as session, session.begin():
                dc = queries.ensure_device_class(session, key=self.device_class,
                                                 info=self.class_info)
                return queries.record_requests(session, device_class=dc, signatures=wanted,
                                               candidates=candidates)
        except SQLAlchemyError as e:
            self.warnings.append(f"could not record profiling requests: {_line(e)}")
            return 0

    def forget(self, sig: FusionSignature) -> None:
        """Drop cached answers for ``sig`` (after a new measurement of it)."""
        self._exact.pop(sig.key, None)
        self._structure.pop(sig.structure_key, None)
        self._class_loaded = self._class_loaded and self._class_id is not None


def _line(err: BaseException) -> str:
    orig = getattr(err, "orig", None)
    text = str(orig if orig is not None else err).strip().splitlines()
    return (text[0] if text else type(err).__name__)[:300]


__all__ = ["NEAREST_LIMIT", "TIE_PERCENT", "TIE_US", "ProfilingCostModel", "measured_fuse",
           "shape_distance"]
