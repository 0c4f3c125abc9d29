"""Multipart uploads streamed into a private folder, and form fields turned into the options of the library.

The body is parsed as it arrives (python-multipart's streaming parser), so a file part goes straight to a
file in the request's own folder (mode 0700, under the server's private temporary folder) and nothing goes
to the system's temporary folder. Only the fields a route names are accepted; a file is named after its
field (and a known extension), never after the client's file name, so no upload can write elsewhere.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from .guard import ApiError

__all__ = ["Upload", "read_multipart", "form_bool", "form_float", "form_choice", "form_early_exit"]

MAX_TEXT_FIELD = 1024  # bytes of a non-file field
MAX_PARTS = 16
_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".wav", ".flac", ".ogg", ".mp3",
               ".opus", ".csv", ".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v", ".m4a"}


@dataclass
class Upload:
    """A parsed form: ``fields`` (text) and ``files`` (field -> path inside ``folder``)."""

    folder: Path
    fields: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)


def _multipart():
    """python-multipart's parser module (``python_multipart`` from 0.0.13, ``multipart`` before)."""
    try:
        from python_multipart import multipart
    except ImportError:  # python-multipart < 0.0.13
        from multipart import multipart
    return multipart


def _bad(parameter: str, message: str, status: int = 400, error: str = "InputError") -> ApiError:
    return ApiError(status, error, message, parameter)


class _Parts:
    """python-multipart callbacks: headers of each part, then its data to a file or a small text buffer."""

    def __init__(self, folder: Path, files: tuple, fields: tuple, upload: Upload):
        self.folder, self.file_names, self.field_names, self.up = folder, files, fields, upload
        self.headers: dict = {}
        self._hname = b""
        self._hvalue = b""
        self.name = None
        self.fh = None
        self.text = None
        self.parts = 0

    def on_part_begin(self):
        self.headers, self.name, self.fh, self.text = {}, None, None, None
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise _bad("body", f"at most {MAX_PARTS} form parts")

    def on_header_field(self, data, start, end):
        self._hname += data[start:end]

    def on_header_value(self, data, start, end):
        self._hvalue += data[start:end]
        if len(self._hvalue) > 4096:
            raise _bad("body", "part headers of at most 4096 bytes")

    def on_header_end(self):
        self.headers[self._hname.lower()[:256]] = self._hvalue
        self._hname, self._hvalue = b"", b""
        if len(self.headers) > 8:
            raise _bad("body", "at most 8 headers in a part")

    def on_headers_finished(self):
        parse_options_header = _multipart().parse_options_header
        _, opts = parse_options_header(self.headers.get(b"content-disposition", b""))
        name = opts.get(b"name", b"").decode("utf-8", "replace")
        filename = opts.get(b"filename")
        if name in self.up.files or name in self.up.fields:
            raise _bad(name, f"the form field {name!r} once")
        if name in self.file_names:
            ext = os.path.splitext(filename.decode("utf-8", "replace"))[1].lower() if filename else ""
            path = self.folder / (name + (ext if ext in _EXTENSIONS else ".bin"))
            self.fh = open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")
            self.up.files[name] = path
        elif name in self.field_names and filename is None:
            self.text = bytearray()
        else:
            allowed = ", ".join([*(f + " (file)" for f in self.file_names), *self.field_names])
            raise _bad(name or "form", f"one of the form fields {allowed}; got {name!r}"
                       + (" as a file" if filename is not None and name in self.field_names else ""))
        self.name = name

    def on_part_data(self, data, start, end):
        if self.fh is not None:
            self.fh.write(data[start:end])
        else:
            self.text += data[start:end]
            if len(self.text) > MAX_TEXT_FIELD:
                raise _bad(self.name, f"a value of at most {MAX_TEXT_FIELD} bytes")

    def on_part_end(self):
        if self.fh is not None:
            self.fh.close()
            self.fh = None
        elif self.text is not None:
            try:
                self.up.fields[self.name] = self.text.decode("utf-8").strip()
            except UnicodeDecodeError:
                raise _bad(self.name, "UTF-8 text") from None
            self.text = None

    def close(self):
        if self.fh is not None:
            self.fh.close()


async def read_multipart(request, folder: Path, *, files: tuple, fields: tuple, limit: int) -> Upload:
    """Parse a ``multipart/form-data`` body into ``folder``, reading at most ``limit`` bytes.

    Raises
    ------
    ApiError
        400 for a body that is not multipart, an unknown or repeated field, too many parts, or a malformed
        body; 413 past ``limit``.
    """
    import inspect

    mp = _multipart()
    ctype, params = mp.parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or not params.get(b"boundary"):
        raise _bad("Content-Type", "a multipart/form-data body (form fields and files)")
    up = Upload(folder)
    parts = _Parts(folder, files, fields, up)
    callbacks = {k: getattr(parts, k) for k in ("on_part_begin", "on_part_data", "on_part_end", "on_header_field",
                                                 "on_header_value", "on_header_end", "on_headers_finished")}
    bounds = {"max_header_count": 8, "max_header_size": 4096}  # python-multipart >= 0.0.21 checks these itself
    known = inspect.signature(mp.MultipartParser).parameters
    parser = mp.MultipartParser(params[b"boundary"], callbacks, max_size=limit,
                                **{k: v for k, v in bounds.items() if k in known})
    seen = 0
    try:
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > limit:
                raise ApiError(413, "BodyTooLarge", f"a body of at most {limit} bytes", "body",
                               headers={"Connection": "close"})
            if chunk:
                parser.write(chunk)
        parser.finalize()
    except ApiError:
        raise
    except Exception as e:  # python-multipart's MultipartParseError and friends
        raise _bad("body", f"a well-formed multipart body ({type(e).__name__})") from None
    finally:
        parts.close()
    return up


def form_bool(up: Upload, name: str, default: bool) -> bool:
    v = up.fields.get(name)
    if v is None or v == "":
        return default
    if v.lower() in ("true", "1", "yes", "on"):
        return True
    if v.lower() in ("false", "0", "no", "off"):
        return False
    raise _bad(name, f"'{name}' must be true or false; got {v[:50]!r}")


def form_float(up: Upload, name: str, lo: float, hi: float) -> float | None:
    v = up.fields.get(name)
    if v is None or v == "":
        return None
    try:
        x = float(v)
    except ValueError:
        x = math.nan
    if not (math.isfinite(x) and lo <= x <= hi):
        raise _bad(name, f"'{name}' must be a number in [{lo:g}, {hi:g}]; got {v[:50]!r}")
    return x


def form_choice(up: Upload, name: str, choices) -> str | None:
    v = up.fields.get(name)
    if v is None or v == "":
        return None
    if v not in choices:
        raise _bad(name, f"'{name}' must be one of {', '.join(map(str, choices))}; got {v[:50]!r}")
    return v


def form_early_exit(up: Upload):
    """``face_early_exit``: ``auto`` (also when absent), ``off`` or a threshold in (0, 1]."""
    v = up.fields.get("face_early_exit")
    if v is None or v == "" or v == "auto":
        return "auto"
    if v == "off":
        return None
    x = form_float(up, "face_early_exit", 1e-9, 1.0)
    return x
