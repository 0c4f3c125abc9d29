"""``cxsense serve``: a local HTTP and WebSocket service for apps in any language (issue 27).

    cxsense serve [--host 127.0.0.1] [--port 8000] [--token TOKEN] [--max-body-mb 50] [--rules RULES.json]
                  [--policy POLICY.json] [--workers N]

Routes: ``GET /v1/health``, ``POST /v1/assess``, ``POST /v1/faces``, ``POST /v1/sessions``,
``GET|DELETE /v1/sessions/{id}``, ``GET /v1/sessions/{id}/report``, ``WS /v1/live``, ``GET /`` (a demo page),
``GET /docs`` and ``/openapi.json``. See docs/serve.md for the API, the security model and the limits.

Needs the optional extra: ``pip install "cxsense[serve]"`` (FastAPI, uvicorn, python-multipart, websockets).
``import cxsense`` never imports this package.
"""

from __future__ import annotations

from .config import ServeConfig, load_policy

__all__ = ["ServeConfig", "create_app", "load_policy", "make_server", "run"]


def create_app(config: ServeConfig | None = None, **settings):
    """The FastAPI app (see :func:`cxsense.serve.app.create_app`)."""
    from .app import create_app as _create

    return _create(config, **settings)


def make_server(config: ServeConfig, *, log_level: str = "info"):
    """The uvicorn server for ``config`` (not started): ``.run()`` serves until interrupted; a test may run it
    on a thread and set ``.should_exit``. The app is made (and ``config`` checked) here."""
    import uvicorn

    app = create_app(config)
    proxy = {"proxy_headers": True, "forwarded_allow_ips": config.forwarded_allow_ips} if config.forwarded_allow_ips \
        else {"proxy_headers": False}
    return uvicorn.Server(uvicorn.Config(app, host=config.host, port=config.port, log_level=log_level,
                                         server_header=False, ws_max_size=config.max_body_bytes(),
                                         limit_concurrency=1024, timeout_keep_alive=5, timeout_graceful_shutdown=10,
                                         **proxy))


def run(config: ServeConfig, *, log_level: str = "info") -> None:
    """Serve ``config`` with uvicorn until interrupted (Ctrl-C or SIGTERM).

    Parameters
    ----------
    config : ServeConfig
        Checked first: a non-loopback host without a token, a banned policy context or a malformed rules
        file raise before anything listens.
    log_level : str
        uvicorn's log level; request lines (which never hold a token) are logged at ``info``.
    """
    make_server(config, log_level=log_level).run()
