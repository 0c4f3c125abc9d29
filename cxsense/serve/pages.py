"""The pages: ``GET /`` (the live demo, showing the policy's notice and asking for consent first) and
``GET /docs`` (the API, rendered from ``/openapi.json``). Both are self-contained HTML: no external script, font
or stylesheet; each response carries a Content-Security-Policy with a fresh nonce that allows only its own
inline script and style, and connections only to this server."""

from __future__ import annotations

import functools
import json
import secrets
from importlib import resources

from .._version import __version__

__all__ = ["demo_response", "docs_response", "page_text"]


@functools.lru_cache(maxsize=None)
def page_text(name: str) -> str:
    """A page template shipped in ``cxsense/serve/static``."""
    return (resources.files("cxsense.serve") / "static" / name).read_text(encoding="utf-8")


def _csp(nonce: str) -> str:
    return ("default-src 'none'; "
            f"script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
            "connect-src 'self'; img-src 'self' data: blob:; media-src 'self' blob: mediastream:; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def _response(name: str, config: dict | None = None):
    from fastapi.responses import HTMLResponse

    nonce = secrets.token_urlsafe(16)
    text = page_text(name).replace("{{NONCE}}", nonce)
    if config is not None:
        blob = json.dumps(config).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        text = text.replace("{{CONFIG_JSON}}", blob)
    return HTMLResponse(text, headers={"Content-Security-Policy": _csp(nonce)})


def demo_response(svc):
    """The demo page with the notice of the server's usage policy and whether a token is needed."""
    return _response("demo.html", {"notice": svc.notice, "version": __version__,
                                   "auth_required": bool(svc.config.token),
                                   "rules": svc.rules.names if svc.rules is not None else []})


def docs_response():
    """The API page (it reads ``/openapi.json`` from this server)."""
    return _response("docs.html")
