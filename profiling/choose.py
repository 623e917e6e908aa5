"""Which cost model decides a plan's "profile" cells, for the CLI and the worker."""

from __future__ import annotations

from dataclasses import dataclass, field

from compiler_core.errors import DnnFusionError
from compiler_core.planner.cost import AnalyticCostModel, CostModel


@dataclass
class Choice:
    """The cost model, the class whose numbers decide (None: analytic only), and one-line
    notes for the user (why the database is not used)."""

    cost_model: CostModel
    device_class: str | None
    notes: list[str] = field(default_factory=list)
    database: object | None = None  # ProfilingDatabase to close after planning

    def finish(self) -> list[str]:
        """Record the profiling requests, close the database; returns the notes to show."""
        flush = getattr(self.cost_model, "flush", None)
        if flush is not None:
            flush()
        self.notes += getattr(self.cost_model, "warnings", [])
        if self.database is not None:
            self.database.close()
            self.database = None
        return self.notes


def choose_cost_model(
    *,
    target: str = "host",
    device_class: str | None = None,
    threads: int | None = None,
    url: str | None = None,
    analytic: bool = False,
) -> Choice:
    """A :class:`~profiling.cost.ProfilingCostModel` for ``device_class`` (default: the
    host's class for ``host``, :data:`~profiling.device.DEFAULT_ARM64_CLASS` for
    ``linux-arm64``) on the database ``url`` (default ``DATABASE_URL`` or the embedded file),
    or the analytic model with a note when the database cannot be used (no note when the
    embedded file does not exist and no class was asked for). Raises
    :class:`DnnFusionError` only for a malformed ``device_class``."""
    if analytic:
        return Choice(AnalyticCostModel(), None)
    from profiling.device import (
        DEFAULT_ARM64_THREADS,
        check_key,
        default_device_class,
        default_threads,
        host_device_class,
    )

    key = check_key(device_class) if device_class else default_device_class(target)
    if threads is None:
        threads = default_threads() if target == "host" else DEFAULT_ARM64_THREADS
    try:
        from profiling.cost import ProfilingCostModel
        from profiling.db import open_database

        db = open_database(url)
    except ImportError as e:
        return Choice(AnalyticCostModel(), None, [
            f"profiling database unavailable ({e.name} is not installed: pip install "
            "-e .[service]); \"profile\" cells decided by the analytic model"])
    except DnnFusionError as e:
        # Never measured anything and nobody asked for a class: analytic, nothing to say.
        quiet = getattr(e, "missing", False) and not device_class
        return Choice(AnalyticCostModel(), None,
                      [] if quiet else [f"{e}; \"profile\" cells decided by the analytic model"])
    info = host_device_class() if key == host_device_class().key else None
    model = ProfilingCostModel(db.sessions, key, threads=threads, class_info=info)
    return Choice(model, key, database=db)
