"""The metrics read from the database (and the broker) when ``/metrics`` is scraped.

The database is the truth the API processes and the workers share, so every value here is the
same whichever API process (``uvicorn --workers N``) or host answers the scrape, and nothing is
lost when a worker dies. One cheap aggregate query per family:

* ``dnnfusion_compilations{state}``: jobs by state; ``dnnfusion_compilation_queue_length``: the
  queued rows (jobs waiting for a worker, whatever the broker holds).
* ``dnnfusion_broker_queue_length{queue}`` and ``dnnfusion_broker_up``: messages waiting in the
  Celery queue in Redis (worker_mode=celery only; a 0.5 s timeout, ``broker_up`` 0 on failure).
* ``dnnfusion_compilation_stage_seconds{stage}`` (histogram): the per-stage times (``stage_ms``)
  of every finished compilation in the database, cache hits excluded (nothing ran). Read
  incrementally: each process keeps its running histogram and on each scrape reads only the rows
  finished since the newest it saw, minus a one-hour overlap for commits that land late (rows
  already counted are skipped by id); the first scrape of a process reads them all.
* ``dnnfusion_compilation_cache_hits_total``: compilations answered from the compile cache (a
  row with ``cached_from_id``; the family is absent while that column does not exist).
* ``dnnfusion_devices{state}`` (online: its agent reported it in the last
  ``profiling.farm.ONLINE_WINDOW_S``), ``dnnfusion_agents_online`` (agents with an online
  device), ``dnnfusion_agent_keys`` (device-agent keys not revoked).
* ``dnnfusion_models`` and ``dnnfusion_model_bytes``: stored uploads and their size.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy import case, distinct, func, select
from sqlalchemy.orm import Session, sessionmaker

from dnfstore.base import utcnow
from dnfstore.models import ApiKey, Compilation, Model
from dnfstore.profiling_models import Device
from dnfstore.settings import Settings
from profiling.farm import ONLINE_WINDOW_S

STATES = ("queued", "running", "succeeded", "failed")
# Seconds; a stage takes from milliseconds (import) to most of the hour limit (a big model).
STAGE_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
LATE_COMMIT_S = 3600.0
_KOMBU_SEP = "\x06\x16"  # kombu's Redis transport: queue "q" at priority p is the list q\x06\x16p
_KOMBU_PRIORITIES = (3, 6, 9)


class StageHistogram:
    """Per-stage durations of finished compilations, kept up to date from the database."""

    def __init__(self, late_commit_s: float = LATE_COMMIT_S) -> None:
        self._late = timedelta(seconds=late_commit_s)
        self._lock = threading.Lock()
        self._counts: dict[str, list[int]] = {}  # per bucket, not cumulative; last is +Inf
        self._sums: dict[str, float] = {}
        self._seen: dict[uuid.UUID, datetime] = {}  # ids within the overlap window
        self._newest: datetime | None = None

    def refresh(self, session: Session) -> None:
        with self._lock:
            query = select(Compilation.id, Compilation.finished_at, Compilation.stage_ms).where(
                Compilation.finished_at.is_not(None)
            )
            if hasattr(Compilation, "cached_from_id"):
                query = query.where(Compilation.cached_from_id.is_(None))
            if self._newest is not None:
                query = query.where(Compilation.finished_at >= self._newest - self._late)
            for job_id, finished, stage_ms in session.execute(query):
                if job_id in self._seen:
                    continue
                self._seen[job_id] = finished
                if self._newest is None or finished > self._newest:
                    self._newest = finished
                for stage, ms in (stage_ms or {}).items():
                    self._observe(str(stage), float(ms) / 1000.0)
            if self._newest is not None:
                floor = self._newest - self._late
                self._seen = {k: v for k, v in self._seen.items() if v >= floor}

    def _observe(self, stage: str, seconds: float) -> None:
        counts = self._counts.setdefault(stage, [0] * (len(STAGE_BUCKETS) + 1))
        index = next((i for i, b in enumerate(STAGE_BUCKETS) if seconds <= b), len(STAGE_BUCKETS))
        counts[index] += 1
        self._sums[stage] = self._sums.get(stage, 0.0) + seconds

    def family(self) -> HistogramMetricFamily:
        family = HistogramMetricFamily(
            "dnnfusion_compilation_stage_seconds",
            "Time finished compilations spent in each stage, seconds (from the database).",
            labels=["stage"],
        )
        with self._lock:
            for stage in sorted(self._counts):
                running, buckets = 0, []
                for bound, count in zip((*STAGE_BUCKETS, float("inf")), self._counts[stage],
                                        strict=True):
                    running += count
                    buckets.append(("+Inf" if bound == float("inf") else str(bound), running))
                family.add_metric([stage], buckets, self._sums[stage])
        return family


class StoreCollector(Collector):
    """A ``prometheus_client`` collector over the database and the broker (see module doc).
    ``collect`` raises what the database raises (the route answers 503)."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings) -> None:
        self._sessions = sessions
        self._settings = settings
        self._stages = StageHistogram()
        self._redis = None

    def collect(self) -> Iterator[Metric]:
        with self._sessions() as session:
            yield from self._compilations(session)
            yield from self._devices(session)
            yield from self._models(session)
            self._stages.refresh(session)
        yield self._stages.family()
        if self._settings.worker_mode == "celery":
            yield from self._broker()

    def _compilations(self, session: Session) -> Iterator[Metric]:
        counts = dict.fromkeys(STATES, 0)
        counts.update(session.execute(
            select(Compilation.state, func.count()).group_by(Compilation.state)
        ).all())
        jobs = GaugeMetricFamily(
            "dnnfusion_compilations", "Compilations in the database by state.", labels=["state"]
        )
        for state, n in sorted(counts.items()):
            jobs.add_metric([state], n)
        yield jobs
        yield GaugeMetricFamily(
            "dnnfusion_compilation_queue_length",
            "Compilations queued in the database, waiting for a worker.",
            value=counts["queued"],
        )
        if hasattr(Compilation, "cached_from_id"):
            hits = session.scalar(
                select(func.count()).where(Compilation.cached_from_id.is_not(None))
            )
            yield CounterMetricFamily(
                "dnnfusion_compilation_cache_hits",
                "Compilations answered from the compile cache (no compiler run).",
                value=hits or 0,
            )

    def _devices(self, session: Session) -> Iterator[Metric]:
        recent = utcnow() - timedelta(seconds=ONLINE_WINDOW_S)
        online = Device.online.is_(True) & (Device.last_seen_at >= recent)
        total, up, agents = session.execute(select(
            func.count(),
            func.coalesce(func.sum(case((online, 1), else_=0)), 0),
            func.count(distinct(case((online, Device.agent), else_=None))),
        )).one()
        devices = GaugeMetricFamily(
            "dnnfusion_devices",
            f"Farm devices; online: reported by their agent in the last {ONLINE_WINDOW_S:g} s.",
            labels=["state"],
        )
        devices.add_metric(["online"], up)
        devices.add_metric(["offline"], total - up)
        yield devices
        yield GaugeMetricFamily(
            "dnnfusion_agents_online", "Device agents with at least one online device.",
            value=agents,
        )
        keys = session.scalar(
            select(func.count()).where(ApiKey.kind == "agent", ApiKey.revoked_at.is_(None))
        )
        yield GaugeMetricFamily(
            "dnnfusion_agent_keys", "Device-agent API keys not revoked.", value=keys or 0
        )

    def _models(self, session: Session) -> Iterator[Metric]:
        count, size = session.execute(
            select(func.count(), func.coalesce(func.sum(Model.size_bytes), 0))
        ).one()
        yield GaugeMetricFamily("dnnfusion_models", "Uploaded models stored.", value=count)
        yield GaugeMetricFamily(
            "dnnfusion_model_bytes", "Bytes of the uploaded models stored (as uploaded).",
            value=size,
        )

    def _broker(self) -> Iterator[Metric]:
        queue = self._settings.celery_queue
        keys = [queue, *(f"{queue}{_KOMBU_SEP}{p}" for p in _KOMBU_PRIORITIES)]
        try:
            if self._redis is None:
                import redis

                self._redis = redis.Redis.from_url(
                    self._settings.redis_url, socket_timeout=0.5, socket_connect_timeout=0.5
                )
            pipe = self._redis.pipeline(transaction=False)
            for key in keys:
                pipe.llen(key)
            waiting = sum(pipe.execute())
        except Exception:  # broker down or unreachable: say so, keep the other families
            yield GaugeMetricFamily("dnnfusion_broker_up", "The Celery broker answered.", value=0)
            return
        yield GaugeMetricFamily("dnnfusion_broker_up", "The Celery broker answered.", value=1)
        length = GaugeMetricFamily(
            "dnnfusion_broker_queue_length",
            "Messages waiting in the Celery queue in Redis (not yet taken by a worker).",
            labels=["queue"],
        )
        length.add_metric([queue], waiting)
        yield length
