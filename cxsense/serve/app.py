"""The FastAPI application of ``cxsense serve``: :func:`create_app` and the HTTP routes (the WebSocket is in
:mod:`cxsense.serve.live`, the pages in :mod:`cxsense.serve.pages`). Imported only when the service is used,
so FastAPI is needed only then."""

from __future__ import annotations

import contextlib

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from .._version import __version__
from ..errors import InputError
from .config import ServeConfig
from .guard import ApiError, GuardMiddleware, error_response, from_exception
from .state import Service, assessment_json
from .uploads import Upload, form_bool, form_choice, form_early_exit, form_float, read_multipart

__all__ = ["create_app"]

ASSESS_FILES = ("face", "voice", "physio", "physio_baseline", "face_baseline", "voice_baseline")
ASSESS_FIELDS = ("detect_face", "face_model", "face_early_exit", "face_cues", "sampling_rate", "physio_window",
                 "nan_policy", "embeddings")
SESSION_FIELDS = ("step", "fps", "physio_offset", "persons", "face_model", "face_early_exit", "face_cues")


def _form_doc(files, fields, required=()) -> dict:
    props = {f: {"type": "string", "format": "binary"} for f in files}
    props.update({f: {"type": "string"} for f in fields})
    schema = {"type": "object", "properties": props}
    if required:
        schema["required"] = list(required)
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}}


_ERRORS = {s: {"description": d} for s, d in ((400, "bad input: {error, parameter, message}"),
                                               (401, "missing or wrong token"), (413, "body over --max-body-mb"),
                                               (429, "rate limit"), (503, "busy"))}


def _face_options(up: Upload) -> dict:
    out = {}
    model = up.fields.get("face_model")
    if model:
        out["face_model"] = model
    if up.fields.get("face_early_exit") not in (None, "", "auto"):
        out["face_early_exit"] = form_early_exit(up)
    if up.fields.get("face_cues"):
        out["face_cues"] = up.fields["face_cues"]
    return out


def _renamed(e: InputError, parameter: str) -> InputError:
    return InputError(parameter, e.allowed, e.given)


def _physio_csv(path, rate, window, parameter: str, notes: list):
    """The CLI's physio CSV reading (its last ``window`` seconds), with errors named after the form field."""
    from ..cli import _physio_for_assess

    try:
        return _physio_for_assess(str(path), rate, window, notes)
    except InputError as e:
        raise _renamed(e, parameter) if e.parameter == "--physio" else e from None


def _assess_sync(up: Upload):
    """``(Assessment, notes)`` for this form, as ``cxsense assess`` computes it (on a compute thread)."""
    import cxsense

    from ..inputs.physio_csv import read_physio_csv

    f = up.files
    kw = _face_options(up)
    rate = form_float(up, "sampling_rate", 1e-6, 1e6)
    window = form_float(up, "physio_window", 1.0, 3600.0) or 60.0
    if "nan_policy" in up.fields:
        kw["nan_policy"] = up.fields["nan_policy"]
    physio, notes = None, []
    if "physio" in f:
        physio, rate = _physio_csv(f["physio"], rate, window, "physio", notes)
    if rate is not None:
        kw["sampling_rate"] = rate
    if "physio_baseline" in f:
        base = read_physio_csv(str(f["physio_baseline"]), sampling_rate=None if physio is None else rate,
                               parameter="physio_baseline")
        if physio is not None and abs(base.rate - rate) > 1e-6 * rate:
            raise InputError("physio_baseline", "a CSV at the same rate as physio", f"{base.rate:g} Hz against {rate:g} Hz")
        kw["physio_baseline"] = base.frame
    for name in ("face_baseline", "voice_baseline"):
        if name in f:
            kw[name] = str(f[name])
    a = cxsense.assess(face=str(f["face"]) if "face" in f else None, voice=str(f["voice"]) if "voice" in f else None,
                       physio=physio, detect_face=form_bool(up, "detect_face", True), **kw)
    return a, notes


def _faces_sync(up: Upload):
    import cxsense

    if "face" not in up.files:
        raise InputError("face", "an image file in the form field 'face'", "no such field")
    return cxsense.assess_faces(str(up.files["face"]), **_face_options(up))


def _session_options(up: Upload) -> dict:
    out = {}
    for name, lo, hi in (("step", 0.2, 60), ("fps", 0, 120), ("physio_offset", -1e6, 1e6)):
        v = form_float(up, name, lo, hi)
        if v is not None:
            out[name] = v
    persons = form_choice(up, "persons", ("all", "largest"))
    if persons:
        out["persons"] = persons
    out.update(_face_options(up))
    return out


def create_app(config: ServeConfig | None = None, **settings):
    """The ASGI app of ``cxsense serve`` (FastAPI), for uvicorn or a test client.

    Parameters
    ----------
    config : ServeConfig, optional
        Checked here (a non-loopback host without a token, a bad policy or rules file raise).
    **settings
        Fields of :class:`ServeConfig` when no ``config`` is given.

    Returns
    -------
    fastapi.FastAPI
        Its state (``app.state.svc``) exists while the app runs (between lifespan start and stop).
    """
    from . import live, pages

    config = (config or ServeConfig(**settings)).check()
    config.resolve()  # the policy and the rules are read and checked now, not at the first request

    @contextlib.asynccontextmanager
    async def lifespan(app):
        app.state.svc = Service(config)
        try:
            yield
        finally:
            app.state.svc.close()

    app = FastAPI(title="cxsense", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Estimates of expressed emotion from face, voice and body signals, on this machine. "
                              "Errors are JSON {error, parameter, message}. See docs/serve.md.")
    app.state.config = config
    app.add_middleware(GuardMiddleware, config=config)
    if config.allow_origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(config.allow_origins), allow_credentials=False,
                           allow_methods=["GET", "POST", "DELETE"], allow_headers=["Authorization", "Content-Type"])

    @app.exception_handler(ApiError)
    async def _api_error(request, exc):
        return error_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request, exc):
        name = {404: "NotFound", 405: "MethodNotAllowed"}.get(exc.status_code, "HTTPError")
        return error_response(ApiError(exc.status_code, name, str(exc.detail), None, getattr(exc, "headers", None)))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request, exc):
        errs = exc.errors()
        loc = ".".join(str(x) for x in errs[0].get("loc", ())[1:]) if errs else None
        return error_response(ApiError(400, "InputError", errs[0].get("msg", "bad request") if errs else "bad request",
                                       loc or None))

    @app.exception_handler(Exception)
    async def _any_error(request, exc):
        return error_response(from_exception(exc))

    def svc(request) -> Service:
        return request.app.state.svc

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def demo(request: Request):
        return pages.demo_response(svc(request))

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    async def docs_page(request: Request):
        return pages.docs_response()

    @app.get("/v1/health", summary="liveness: {status: ok, version} (no token needed)")
    async def health():
        return {"status": "ok", "version": __version__}

    @app.get("/v1/status", summary="queues, live connections, webhook counts, memory", responses=_ERRORS)
    async def status(request: Request):
        return svc(request).status()

    async def _upload(request, s, folder, files, fields):
        return await read_multipart(request, folder, files=files, fields=fields, limit=s.config.max_body_bytes())

    @app.post("/v1/assess", summary="one Assessment from face, voice and/or physio files (as cxsense.assess)",
              openapi_extra=_form_doc(ASSESS_FILES, ASSESS_FIELDS), responses={**_ERRORS, 422: {"description": "no usable signal"}})
    async def assess_route(request: Request):
        s = svc(request)
        with s.workdir() as d:
            try:
                up = await _upload(request, s, d, ASSESS_FILES, ASSESS_FIELDS)
                embeddings = form_bool(up, "embeddings", False)
                if not set(up.files) & {"face", "voice", "physio"}:
                    raise InputError("face, voice, physio", "at least one of the files face, voice, physio", "none")
                a, notes = await s.run(_assess_sync, up)
            except Exception as e:  # noqa: BLE001 - mapped to its JSON error, private paths removed
                raise from_exception(e, scrub=str(d)) from None
        s.stats["assess"] += 1
        headers = {}
        if s.store is not None:
            rid = await s.run(s.store_put, a, "http-assess", admit=False)
            headers["X-Cxsense-Record"] = rid
        out = assessment_json(a, embeddings)
        if notes:  # as the CLI: what was done to a physio CSV (columns skipped, the window assessed)
            out["notes"] = notes
        return JSONResponse(out, headers=headers)

    @app.post("/v1/faces", summary="one Assessment per face in an image, largest first (as cxsense.assess_faces)",
              openapi_extra=_form_doc(("face",), ("face_model", "face_early_exit", "face_cues", "embeddings"), ("face",)),
              responses=_ERRORS)
    async def faces_route(request: Request):
        s = svc(request)
        with s.workdir() as d:
            try:
                up = await _upload(request, s, d, ("face",), ("face_model", "face_early_exit", "face_cues", "embeddings"))
                embeddings = form_bool(up, "embeddings", False)
                out = await s.run(_faces_sync, up)
            except Exception as e:  # noqa: BLE001
                raise from_exception(e, scrub=str(d)) from None
        s.stats["faces"] += 1
        return JSONResponse([assessment_json(a, embeddings) for a in out])

    @app.post("/v1/sessions", status_code=202, summary="analyse a video (and a physio CSV) in the background",
              openapi_extra=_form_doc(("video", "physio"), SESSION_FIELDS, ("video",)), responses=_ERRORS)
    async def sessions_create(request: Request):
        s = svc(request)
        job = s.jobs.reserve()  # 503 before the body is read when the queue is full
        try:
            up = await _upload(request, s, job.folder, ("video", "physio"), SESSION_FIELDS)
            if "video" not in up.files:
                raise InputError("video", "a video file in the form field 'video'", "no such field")
            options = _session_options(up)
        except Exception as e:  # noqa: BLE001
            s.jobs.abandon(job)
            raise from_exception(e, scrub=str(job.folder)) from None
        s.jobs.start(job, up.files["video"], up.files.get("physio"), options)
        return JSONResponse({"id": job.id, "status": job.status, "url": f"/v1/sessions/{job.id}",
                             "report": f"/v1/sessions/{job.id}/report"}, status_code=202,
                            headers={"Location": f"/v1/sessions/{job.id}"})

    @app.get("/v1/sessions/{job_id}", summary="a job's status; when done also timeline, events, summary, info",
             responses={**_ERRORS, 404: {"description": "no such job"}})
    async def sessions_get(job_id: str, request: Request):
        return svc(request).jobs.get(job_id).view()

    @app.get("/v1/sessions/{job_id}/report", response_class=HTMLResponse, summary="the job's HTML report",
             responses={**_ERRORS, 404: {"description": "no such job"}, 409: {"description": "not done"}})
    async def sessions_report(job_id: str, request: Request):
        job = svc(request).jobs.get(job_id)
        if job.status != "done" or job.report is None:
            raise ApiError(409, "NotReady", f"the job is {job.status}; the report exists once it is done", "id")
        return Response(job.report, media_type="text/html; charset=utf-8",
                        headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:"})

    @app.delete("/v1/sessions/{job_id}", summary="cancel a job and remove everything kept for it",
                responses={**_ERRORS, 404: {"description": "no such job"}})
    async def sessions_delete(job_id: str, request: Request):
        job = svc(request).jobs.delete(job_id)
        return {"id": job.id, "deleted": True}

    app.add_api_websocket_route("/v1/live", live.endpoint)
    return app
