"""The FastAPI application: ``create_app()`` (``uvicorn --factory service.main:create_app``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from dnfstore.db import make_engine, make_sessionmaker
from dnfstore.settings import Settings, get_settings
from dnfstore.storage import open_storage
from service.api.openapi import install_openapi
from service.api.router import api_router
from service.bodylimit import BodyLimit
from service.dashboard.app import install_dashboard
from service.dashboard.docs import install_docs
from service.dispatch import CeleryDispatcher, Dispatcher
from service.errors import install_error_handlers
from service.observe import install_observability

API_PREFIX = "/api/v1"


def create_app(settings: Settings | None = None, dispatcher: Dispatcher | None = None) -> FastAPI:
    """Build the app. The schema must exist already (``alembic upgrade head``; ``dnnfusion
    serve`` runs it itself). ``dispatcher`` defaults to Celery over Redis. Without ``settings``
    (``uvicorn --factory``) the app reads the environment and also sets up the process's
    logging (``service.observe.configure_logging``); a caller passing settings does that itself."""
    own_process = settings is None
    settings = settings or get_settings()
    engine = make_engine(settings)
    dispatcher = dispatcher or CeleryDispatcher(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        dispatcher.start()
        try:
            yield
        finally:
            dispatcher.stop()
            engine.dispose()

    app = FastAPI(
        title="dnnfusion",
        summary="Upload ONNX models, compile them with DNNFusion, download the artifacts.",
        version="0.1.0",
        lifespan=lifespan,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # served from vendored files by install_docs (no CDN)
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.storage = open_storage(settings)  # scratch dir + object store (local or S3)
    app.state.dispatcher = dispatcher
    install_error_handlers(app)
    # JSON bodies; the upload streams to disk under its own cap (service.upload).
    app.add_middleware(BodyLimit, exempt=frozenset({("POST", f"{API_PREFIX}/models")}))
    install_observability(app, settings, owns_process=own_process)  # logs, ids, /metrics
    app.include_router(api_router, prefix=API_PREFIX)
    install_openapi(app)  # every status a route sends, one error body
    install_dashboard(app, settings)  # pages at /, /static, security headers
    install_docs(app)  # /docs: Swagger UI from /static/vendor
    return app
