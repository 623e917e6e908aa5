"""The OpenAPI document at ``/api/v1/openapi.json``, made to say what the server sends.

FastAPI's document is post-processed once, when first asked for:

* every error is ``ErrorPublic`` (``{"detail": str}``): FastAPI's ``HTTPValidationError`` (a list
  of field errors) is replaced, because :mod:`service.errors` answers a validation error with a
  one-line ``detail`` too;
* the statuses that follow from a route's shape are declared on it: 401 and 403 on every route
  that takes a key, 400 (unparseable body) and 413 (:mod:`service.bodylimit`) on every route that
  reads a JSON body; the rest each route declares itself (:func:`service.api.responses.errors`);
* ``target`` of a compilation lists the targets this server builds for (its settings);
* OpenAPI links say where an id in a response can be used (upload -> compile -> poll), so a
  client generator or a stateful tester can chain the calls.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI

from service.api.responses import ERROR_DESCRIPTIONS, WWW_AUTHENTICATE
from service.schemas.common import ErrorPublic

ERROR_REF = "#/components/schemas/ErrorPublic"
_FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")

# (source route, target route, link fields): an id the source returns, where the target takes it.
_ID = "$response.body#/id"  # the id of what the source returned
LINKS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("upload_model", "read_model", {"parameters": {"path.model_id": _ID}}),
    # Compile the model as uploaded (its own input shapes); pinning shapes needs its input names.
    ("upload_model", "create_compilation",
     {"requestBody": {"model_id": _ID, "input_shapes": {}}}),
    ("upload_model", "list_compilations", {"parameters": {"query.model_id": _ID}}),
    ("create_compilation", "read_compilation",
     {"parameters": {"path.compilation_id": _ID}}),
    ("create_compilation", "download_artifact",
     {"parameters": {"path.compilation_id": _ID}}),
    ("create_compilation", "read_report", {"parameters": {"path.compilation_id": _ID}}),
    ("create_compilation", "read_graph", {"parameters": {"path.compilation_id": _ID}}),
    ("read_compilation", "read_model", {"parameters": {"path.model_id": "$response.body#/model_id"}}),
)


def install_openapi(app: FastAPI) -> None:
    """Serve the post-processed document (FastAPI rebuilds its own when the routes change;
    each new one is processed once)."""
    processed: list[dict[str, Any] | None] = [None]  # the last document processed (held)

    def openapi() -> dict[str, Any]:
        doc = FastAPI.openapi(app)  # FastAPI's document, cached on the app
        if processed[0] is not doc:
            settings = getattr(app.state, "settings", None)
            declare_contract(doc, targets=getattr(settings, "targets", None))
            processed[0] = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]


def error_entry(status: int, description: str | None = None) -> dict[str, Any]:
    """A response object of the document: the error body, described."""
    entry: dict[str, Any] = {
        "description": description or ERROR_DESCRIPTIONS[status],
        "content": {"application/json": {"schema": {"$ref": ERROR_REF}}},
    }
    if status == 401:
        entry["headers"] = WWW_AUTHENTICATE
    return entry


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """``(path, method, operation)`` of every operation in ``doc``."""
    for path, item in doc.get("paths", {}).items():
        for method in _METHODS:
            if method in item:
                yield path, method, item[method]


def declare_contract(doc: dict[str, Any], targets: list[str] | None) -> None:
    """Post-process FastAPI's ``doc`` in place (see the module docstring)."""
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("ErrorPublic", ErrorPublic.model_json_schema())
    for _, _, op in operations(doc):
        responses = op.setdefault("responses", {})
        if "422" in responses:
            described = responses["422"].get("description")
            if described in (None, "Validation Error", "Unprocessable Content"):
                described = None
            responses["422"] = error_entry(422, described)
        if op.get("security"):
            responses.setdefault("401", error_entry(401))
            responses.setdefault("403", error_entry(403))
        if "application/json" in op.get("requestBody", {}).get("content", {}):
            responses.setdefault("400", error_entry(400))
            responses.setdefault("413", error_entry(413))
    for name in _FASTAPI_VALIDATION:
        schemas.pop(name, None)
    if targets:
        create = schemas.get("CompilationCreate", {}).get("properties", {})
        if "target" in create:
            create["target"]["enum"] = list(targets)
    _add_links(doc)
    left = [name for name in _FASTAPI_VALIDATION if _mentions(doc, f"/schemas/{name}")]
    if left:
        raise RuntimeError(f"OpenAPI document still refers to {left}")


def _operation_of(doc: dict[str, Any], name: str) -> dict[str, Any]:
    """The operation of the route whose endpoint is ``name`` (FastAPI's operation ids are
    ``<name><path>_<method>`` with non-word characters as ``_``)."""
    for path, method, op in operations(doc):
        if op.get("operationId") == re.sub(r"\W", "_", f"{name}{path}") + f"_{method}":
            return op
    raise RuntimeError(f"OpenAPI links: no route named {name!r}")


def _add_links(doc: dict[str, Any]) -> None:
    for source, target, fields in LINKS:
        op, target_id = _operation_of(doc, source), _operation_of(doc, target)["operationId"]
        for status, response in op["responses"].items():
            if status.startswith("2"):
                response.setdefault("links", {})[target] = {"operationId": target_id, **fields}


def _mentions(node: Any, text: str) -> bool:
    if isinstance(node, dict):
        return any(_mentions(v, text) for v in node.values())
    if isinstance(node, list):
        return any(_mentions(v, text) for v in node)
    return isinstance(node, str) and text in node
