"""``GET /metrics``: Prometheus text format (``prometheus_client``).

Who may scrape: with ``DNNFUSION_METRICS_TOKEN`` set, a request with ``Authorization: Bearer
<token>`` (else 401); unset, loopback clients only (else 403). Behind a reverse proxy with
``--proxy-headers`` the client is the proxy's forwarded address, so remote scrapes through the
proxy need the token too.

What: the database and broker families (``service.metrics_store``) and this process's HTTP
families (``service.observe``). With several API processes (``uvicorn --workers N``) set
``PROMETHEUS_MULTIPROC_DIR`` to an empty directory, the same for all of them, before they start:
the HTTP counters are then summed over every process (``prometheus_client`` multiprocess mode);
without it a scrape sees the counters of the one process that answered.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os

from fastapi import APIRouter, FastAPI, HTTPException, Request, status
from fastapi.responses import Response
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy.exc import SQLAlchemyError

from dnfstore.settings import Settings
from service.metrics_store import StoreCollector

router = APIRouter(tags=["metrics"])
log = logging.getLogger(__name__)


class _ThisProcess:
    """The default registry's families (the HTTP metrics, the Python process) as a collector."""

    def collect(self):
        return REGISTRY.collect()


def build_registry(collector: StoreCollector) -> CollectorRegistry:
    """The families ``/metrics`` exposes, in multiprocess mode when PROMETHEUS_MULTIPROC_DIR is
    set."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    return registry


def _is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _authorize(request: Request, settings: Settings) -> None:
    token = settings.metrics_token
    if not token:
        if not _is_loopback(request.client.host if request.client else None):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                "GET /metrics answers loopback clients only; set DNNFUSION_METRICS_TOKEN to "
                "scrape from another host",
            )
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(),
                                                              token.encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "GET /metrics needs 'Authorization: Bearer <DNNFUSION_METRICS_TOKEN>'",
            headers={"WWW-Authenticate": "Bearer"},
        )


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """The Prometheus exposition; 401/403 as above, 503 when the database cannot answer."""
    _authorize(request, request.app.state.settings)
    try:
        body = generate_latest(request.app.state.metrics_registry)
    except SQLAlchemyError as err:
        log.warning("metrics: database unavailable: %s", type(err).__name__)
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            "metrics unavailable: the database did not answer") from err
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def install(app: FastAPI, settings: Settings) -> None:
    """Add ``GET /metrics`` to ``app`` (its collector reads ``app.state.sessionmaker``)."""
    app.state.metrics_registry = build_registry(
        StoreCollector(app.state.sessionmaker, settings)
    )
    app.include_router(router)
