"""``/docs``: the interactive API documentation (Swagger UI) from vendored files.

FastAPI's default page loads Swagger UI from a CDN and starts it with an inline script, which
breaks the rule that no page fetches anything from the internet and needs the pages' strict
Content-Security-Policy lifted. Here the page is a static shell: Swagger UI's bundle and style
from ``/static/vendor/swagger-ui/`` and a small initializer (``/static/js/docs.js``) that reads
the OpenAPI document's URL from a data attribute, all under the same CSP as the other pages.
"""

from __future__ import annotations

from html import escape

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} · API documentation</title>
<link rel="stylesheet" href="/static/vendor/swagger-ui/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi_url}"></div>
<script src="/static/vendor/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/static/js/docs.js"></script>
</body>
</html>
"""


def install_docs(app: FastAPI, path: str = "/docs") -> None:
    """Serve Swagger UI for ``app.openapi_url`` at ``path`` (create the app with
    ``docs_url=None, redoc_url=None``)."""
    page = _PAGE.format(title=escape(app.title), openapi_url=escape(app.openapi_url or "", quote=True))

    @app.get(path, include_in_schema=False, response_class=HTMLResponse)
    def api_docs() -> HTMLResponse:
        return HTMLResponse(page)
