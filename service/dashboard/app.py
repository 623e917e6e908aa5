"""``install_dashboard``: mount the dashboard on the FastAPI app."""


from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from dnfstore.settings import Settings
from service.dashboard.headers import SecurityHeaders
from service.dashboard.pages import NotSignedIn, router
from service.dashboard.session import Sessions, load_secret

STATIC_DIR = Path(__file__).parent / "static"


def install_dashboard(app: FastAPI, settings: Settings) -> None:
    """Add the pages, ``/static`` and the security headers to ``app``."""
    app.state.dashboard_sessions = Sessions(load_secret(settings), settings.session_max_age_s)

    @app.exception_handler(NotSignedIn)
    async def _signin_first(_: Request, __: NotSignedIn) -> RedirectResponse:
        return RedirectResponse("/signin", status_code=303)

    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(SecurityHeaders)
