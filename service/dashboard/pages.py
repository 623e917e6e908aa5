"""The dashboard's HTML pages: sign in/out, compilations, a compilation's report, devices and
the profiling database. Each page is a server-rendered shell (Jinja2, autoescaped); its data
comes from the JSON API through the page's script (service/dashboard/static/js)."""

from __future__ import annotations

import secrets
import uuid
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session

from dnfstore.compilations import get_compilation
from service.api.deps import get_session
from service.crud.models import get_model
from service.crud.users import authenticate
from service.dashboard.session import (
    CSRF_FIELD,
    SESSION_COOKIE,
    SIGNIN_COOKIE,
    SIGNIN_MAX_AGE_S,
    DashboardSession,
    check_csrf,
    clear_session_cookie,
    is_https,
    sessions_of,
    set_session_cookie,
)
from service.text import short

_TEMPLATES = Path(__file__).parent / "templates"
_env = Environment(
    loader=FileSystemLoader(_TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html",), default=True),
)

router = APIRouter(include_in_schema=False)
MAX_KEY_CHARS = 200


Db = Annotated[Session, Depends(get_session)]


class NotSignedIn(Exception):
    """A page needs a session; answered with a redirect to /signin."""


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    html = _env.get_template(name).render(request=request, **context)
    return HTMLResponse(html, status_code=status_code)


def page_session(request: Request, db: Db) -> DashboardSession:
    """The page's session; without one the page answers a redirect to /signin."""
    found = sessions_of(request).verify(db, request.cookies.get(SESSION_COOKIE))
    if found is None:
        raise NotSignedIn()
    return found


PageSession = Annotated[DashboardSession, Depends(page_session)]


def _signin_page(request: Request, status_code: int = 200, error: str | None = None) -> HTMLResponse:
    nonce = secrets.token_urlsafe(24)
    response = render(request, "signin.html", status_code, error=error,
                      csrf_token=sessions_of(request).signin_token(nonce))
    response.set_cookie(SIGNIN_COOKIE, nonce, max_age=SIGNIN_MAX_AGE_S, path="/signin",
                        httponly=True, samesite="strict", secure=is_https(request))
    return response


@router.get("/signin", response_class=HTMLResponse)
def signin_form(request: Request, db: Db) -> Response:
    if sessions_of(request).verify(db, request.cookies.get(SESSION_COOKIE)) is not None:
        return RedirectResponse("/", status_code=303)
    return _signin_page(request)


@router.post("/signin", response_class=HTMLResponse)
async def signin(request: Request, db: Db) -> Response:
    """Check the form's token (bound to the ``dnf_signin`` cookie) and the key; on success a
    session cookie and a redirect to ``/``, else the form again with the reason (401/403)."""
    form = await request.form(max_files=0, max_fields=10)
    token = form.get(CSRF_FIELD)
    api_key = form.get("api_key")
    sessions = sessions_of(request)
    if not sessions.signin_ok(request.cookies.get(SIGNIN_COOKIE),
                              token if isinstance(token, str) else None):
        return _signin_page(request, 403, "the sign-in form expired; please try again")
    if not isinstance(api_key, str) or not api_key.strip():
        return _signin_page(request, 401, "enter your API key")
    api_key = api_key.strip()
    found = None if len(api_key) > MAX_KEY_CHARS else authenticate(session=db, token=api_key)
    db.commit()
    if found is None:
        return _signin_page(request, 401, "this API key is not valid")
    user, key = found
    if key.kind != "user":
        return _signin_page(request, 401, "a device-agent key cannot sign in; use a user key")
    response = RedirectResponse("/", status_code=303)
    set_session_cookie(response, request, sessions.new_cookie(user.id, key.id),
                       sessions.max_age_s)
    response.delete_cookie(SIGNIN_COOKIE, path="/signin")
    return response


@router.post("/signout")
async def signout(request: Request, db: Db) -> Response:
    """End the session (CSRF-checked when there is one) and go back to the sign-in form."""
    found = sessions_of(request).verify(db, request.cookies.get(SESSION_COOKIE))
    if found is not None:
        form = await request.form(max_files=0, max_fields=10)
        token = form.get(CSRF_FIELD)
        check_csrf(request, found.csrf_token, token if isinstance(token, str) else None)
    response = RedirectResponse("/signin", status_code=303)
    clear_session_cookie(response, request)
    return response


def _page(request: Request, s: DashboardSession, name: str, nav: str, **context: Any):
    return render(request, name, user=s.user.name, csrf_token=s.csrf_token, nav=nav,
                  **context)


@router.get("/", response_class=HTMLResponse)
def compilations_page(request: Request, s: PageSession):
    """The compilations table and the upload form (targets and the upload cap from the
    settings)."""
    settings = request.app.state.settings
    return _page(request, s, "compilations.html", "compilations", targets=settings.targets,
                 max_upload_bytes=settings.max_upload_bytes)


def not_found_page(request: Request, s: DashboardSession | None, what: str) -> HTMLResponse:
    """The 404 page (``h1#not-found``) for a missing or another user's ``what``."""
    return render(request, "not_found.html", 404, what=what, nav="",
                  user=s.user.name if s else None, csrf_token=s.csrf_token if s else "")


@router.get("/compilations/{compilation_id}", response_class=HTMLResponse)
def report_page(
    compilation_id: str,
    request: Request,
    s: PageSession,
    db: Db,
):
    """A compilation's report; another user's (or an unknown) id is the 404 page."""
    try:
        cid = uuid.UUID(compilation_id)
    except ValueError:
        return not_found_page(request, s, "compilation")
    job = get_compilation(session=db, owner_id=s.user.id, compilation_id=cid)
    if job is None:
        return not_found_page(request, s, "compilation")
    model = get_model(session=db, owner_id=s.user.id, model_id=job.model_id)
    return _page(request, s, "report.html", "compilations", job=job,
                 model_name=short(model.name if model else "?", 200))


@router.get("/devices", response_class=HTMLResponse)
def devices_page(request: Request, s: PageSession):
    """The device farm (GET /api/v1/devices, fetched by static/js/devices.js)."""
    return _page(request, s, "devices.html", "devices")


@router.get("/profiling", response_class=HTMLResponse)
def profiling_page(request: Request, s: PageSession):
    """The profiling database (GET /api/v1/profiling/..., fetched by static/js/profiling.js)."""
    return _page(request, s, "profiling.html", "profiling")
