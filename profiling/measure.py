"""Filling the profiling database on this machine (``dnnfusion profile --device host``).

:class:`MeasuringCostModel` plans like :class:`~profiling.cost.ProfilingCostModel`, except
that a "profile" candidate with no entry of its exact signature is measured on the spot:
its micro-benchmark (:mod:`compiler_core.bench`) is built for ``host``, checked (fused vs.
separate outputs) and timed, and the entry stored before the planner gets the answer. Planning
a model this way measures exactly the candidates its measured plan asks about, including the
ones that appear only because an earlier measurement refused a fusion. A refusal is measured
twice (the entry keeps both runs' samples). Candidates already measured for this device class
and code-generator version are skipped.
"""

from __future__ import annotations

import dataclasses
import socket
import tempfile
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

from compiler_core.bench.run import (
    BenchmarkError,
    BenchmarkMismatchError,
    build_benchmark,
    run_benchmark,
)
from compiler_core.codegen.build import BuildError
from compiler_core.errors import ResourceLimitError, UnsupportedOperatorError
from compiler_core.ir.ecg import ECG
from compiler_core.planner.cost import Profitability
from profiling import queries
from profiling.cost import ProfilingCostModel, measured_fuse
from profiling.device import DeviceClassInfo, host_temperature_c

Report = Callable[[str], None]


@dataclass
class MeasureStats:
    measured: int = 0  # benchmarks run now
    already: int = 0  # candidates answered by an existing entry
    unmeasurable: list[str] = field(default_factory=list)  # why a benchmark could not run
    mismatches: list[str] = field(default_factory=list)  # fused != separate (a codegen bug)


class MeasuringCostModel(ProfilingCostModel):
    """Measures every exact miss on this machine (see the module docstring).

    ``info``: this machine's class (its key is the class the entries go to); ``min_ms``: the
    minimum measuring time of each side; ``report``: called with one line per candidate."""

    def __init__(self, sessions, info: DeviceClassInfo, *, threads: int, min_ms: float = 100.0,
                 report: Report | None = None, workdir: Path | None = None) -> None:
        super().__init__(sessions, info.key, threads=threads, class_info=info)
        self.min_ms = min_ms
        self.report = report or (lambda line: None)
        self.stats = MeasureStats()
        self.workdir = workdir
        self.label = ""
        self._serial = socket.gethostname()

    def profitability(self, ecg: ECG, first: Collection[int], second: Collection[int]
                      ) -> Profitability:
        sig = self.signature(ecg, first, second)
        hit = self._lookup(sig)
        if hit is not None and hit[1] == "measured":
            self.stats.already += 1
            return super().profitability(ecg, first, second)
        n = self.stats.measured + 1
        try:
            with tempfile.TemporaryDirectory(dir=self.workdir, prefix="dnf-bench-") as tmp:
                built = build_benchmark(ecg, first, second, Path(tmp) / "bench.run",
                                        target="host", threads=self.threads)
                result = run_benchmark(built, threads=self.threads, min_ms=self.min_ms)
                if not measured_fuse(result.fused_median_us, result.separate_median_us):
                    # A refusal is confirmed by a second run; the entry keeps both runs'
                    # samples, so a transient slowdown of the fused side cannot decide alone.
                    again = run_benchmark(built, threads=self.threads, min_ms=self.min_ms)
                    result = dataclasses.replace(
                        result, fused_us=result.fused_us + again.fused_us,
                        separate_us=result.separate_us + again.separate_us,
                        max_abs_diff=max(result.max_abs_diff, again.max_abs_diff))
        except BenchmarkMismatchError as e:
            self.stats.mismatches.append(f"{sig.ops}: {e}")
            self.report(f"{self.label} MISMATCH {sig.ops}: {e}")
            return super().profitability(ecg, first, second)
        except (UnsupportedOperatorError, ResourceLimitError, BuildError, BenchmarkError) as e:
            self.stats.unmeasurable.append(f"{sig.ops}: {e}")
            self.report(f"{self.label} not measurable {sig.ops}: {e}")
            return super().profitability(ecg, first, second)
        with self.sessions() as session, session.begin():
            dc = queries.ensure_device_class(session, key=self.device_class,
                                             info=self.class_info)
            dev = queries.ensure_device(session, device_class=dc, serial=self._serial,
                                        agent="dnnfusion profile")
            entry = queries.add_entry(session, device_class=dc, signature=sig, result=result,
                                      device=dev, agent="dnnfusion profile",
                                      temperature_c=host_temperature_c())
            entry_id = entry.id
        self.stats.measured += 1
        self.close()  # the next lookup reads in a new transaction, which sees this entry
        self.forget(sig)
        self._wanted.pop(sig.key, None)
        f, s = result.fused_median_us, result.separate_median_us
        self._exact[sig.key] = queries.EntrySummary(entry_id, sig.key,
                                                    [list(x) for x in sig.shapes], f, s)
        fuse = measured_fuse(f, s)
        self.report(f"{self.label} #{n} {sig.ops}: fused {f:.2f} us, separate {s:.2f} us -> "
                    f"{'fuse' if fuse else 'keep apart'}")
        self.counts["measured"] += 1
        return Profitability(f, s, "measured", entry_id, fuse)
