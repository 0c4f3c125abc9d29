"""Image input: a path, encoded bytes or a NumPy array becomes one uint8 RGB array."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..limits import IMAGE_MAX_ASPECT, IMAGE_MAX_FILE_BYTES, IMAGE_MAX_PIXELS, IMAGE_MIN_SIDE

__all__ = ["Image", "load_image", "MAX_PIXELS", "MAX_FILE_BYTES", "MIN_SIDE", "MAX_ASPECT"]

#: Largest image accepted, in pixels (64 megapixels), read from the array's shape or the file's header before
#: anything is decoded or copied (see :mod:`cxsense.limits`).
MAX_PIXELS = IMAGE_MAX_PIXELS
#: Largest encoded image accepted, in bytes (100 MB).
MAX_FILE_BYTES = IMAGE_MAX_FILE_BYTES
#: Smallest side accepted, in pixels.
MIN_SIDE = IMAGE_MIN_SIDE
#: Largest ratio of the longer side to the shorter.
MAX_ASPECT = IMAGE_MAX_ASPECT
#: Pixels converted at a time (the decoded image is turned into RGB strip by strip, never whole at once).
_STRIP_PIXELS = 4_000_000
#: EXIF orientation -> the PIL transposition that undoes it (as ``ImageOps.exif_transpose``).
_ORIENTATION = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE", 6: "ROTATE_270",
                7: "TRANSVERSE", 8: "ROTATE_90"}


@dataclass(frozen=True)
class Image:
    """A normalised image: ``rgb`` is a read-only uint8 array ``(H, W, 3)`` in RGB order."""

    rgb: np.ndarray

    @property
    def gray(self) -> np.ndarray:
        """uint8 ``(H, W)`` luma (ITU-R BT.601 weights, as OpenCV)."""
        import cv2

        return cv2.cvtColor(self.rgb, cv2.COLOR_RGB2GRAY)


def _describe(x) -> str:
    if isinstance(x, np.ndarray):
        return f"an array of shape {x.shape} and dtype {x.dtype}"
    if isinstance(x, (bytes, bytearray, memoryview)):
        return f"{len(x)} bytes"
    return f"a {type(x).__name__}"


def _check_size(width: int, height: int, parameter: str, given: str) -> None:
    """The size limits, on a size that is only claimed so far (a header, an array's shape)."""
    if width * height > MAX_PIXELS:
        raise InputError(parameter, f"an image of at most {MAX_PIXELS} pixels", given)
    if min(width, height) < MIN_SIDE:
        raise InputError(parameter, f"an image of at least {MIN_SIDE}x{MIN_SIDE} pixels",
                         f"an image of {width}x{height} pixels")
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise InputError(parameter, f"an image whose longer side is at most {MAX_ASPECT:g} times its shorter side",
                         f"an image of {width}x{height} pixels")


def _grey_to_uint8(a: np.ndarray, mode: str, lo: float, hi: float) -> np.ndarray:
    """One strip of a high-bit-depth grey image as uint8. 16-bit: round(v / 257), in integers (equal to rounding
    the float quotient, which is never a half). 32-bit int or float: the 16-bit range when it fits, else the
    image's own range ``lo``-``hi`` (found over the whole image first)."""
    if mode.startswith("I;16"):
        t = a.astype(np.uint32)
        t += 128
        t //= 257
        return t.astype(np.uint8)
    a = np.nan_to_num(a.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    if lo >= 0 and hi <= 1.0 and mode == "F":
        a = a * 255.0
    elif lo >= 0 and hi <= 255:
        pass
    elif lo >= 0 and hi <= 65535:
        a = a / 257.0
    else:
        a = (a - lo) / max(hi - lo, 1e-12) * 255.0
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


def _to_rgb8(im) -> np.ndarray:
    """8-bit RGB ``(H, W, 3)`` of a decoded PIL image, made strip by strip (the peak is the decoded image plus
    the output). High-bit-depth grey (16-bit PNG or TIFF, 32-bit integer or float TIFF) is rescaled: PIL's own
    ``convert("RGB")`` clips every value above 255, which turns a 16-bit image white."""
    w, h = im.size
    rows = max(1, _STRIP_PIXELS // w)
    strips = [(y, min(h, y + rows)) for y in range(0, h, rows)]
    out = np.empty((h, w, 3), np.uint8)
    grey = im.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")
    lo = hi = 0.0
    if grey and im.mode in ("I", "F"):
        lo, hi = np.inf, -np.inf
        for y0, y1 in strips:
            a = np.nan_to_num(np.asarray(im.crop((0, y0, w, y1)), dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
            lo, hi = min(lo, float(a.min())), max(hi, float(a.max()))
    for y0, y1 in strips:
        strip = im.crop((0, y0, w, y1))
        if grey:
            out[y0:y1] = _grey_to_uint8(np.asarray(strip), im.mode, lo, hi)[:, :, None]
        elif strip.mode == "L":
            out[y0:y1] = np.asarray(strip)[:, :, None]
        else:
            out[y0:y1] = np.asarray(strip.convert("RGB"), dtype=np.uint8)
    return out


def _orientation(im) -> str | None:
    """The transposition that the EXIF orientation tag asks for, or None. A tag that cannot be read (a damaged
    EXIF block) is ignored: the image is used as stored."""
    try:
        return _ORIENTATION.get(int(im.getexif().get(0x0112, 1)))
    except Exception:  # noqa: BLE001 - any damage in the EXIF block: PIL raises struct.error, TypeError, ...
        return None


def _check_encoded_size(n: int, parameter: str, origin: str) -> None:
    if n == 0:
        raise InputError(parameter, "a non-empty image (JPEG, PNG, BMP, WebP, TIFF, ...)", f"{origin} of 0 bytes")
    if n > MAX_FILE_BYTES:
        raise InputError(parameter, f"an encoded image of at most {MAX_FILE_BYTES} bytes", f"{origin} of {n} bytes")


def _decode(source, parameter: str, origin: str) -> np.ndarray:
    """Decode an image from a binary file object: its header's size is checked before the pixels are read."""
    from PIL import Image as PILImage

    try:
        with PILImage.open(source) as im:
            w, h = im.size
            _check_size(w, h, parameter, f"{origin} of {w}x{h} pixels")
            im.load()  # the first frame of animated or multi-page files
            if im.size != (w, h):  # pragma: no cover - a decoder that changed its mind
                _check_size(*im.size, parameter, f"{origin} of {im.size[0]}x{im.size[1]} pixels")
            turn = _orientation(im)
            if turn is not None:  # phone photos: honour the orientation tag
                im = im.transpose(getattr(PILImage.Transpose, turn))
            return _to_rgb8(im)
    except InputError:
        raise
    except MemoryError:
        raise InputError(parameter, "an image that fits in memory once decoded",
                         f"{origin} that could not be decoded (MemoryError)") from None
    except Exception as e:  # noqa: BLE001 - every decoder failure (PIL raises OSError, SyntaxError, TypeError,
        # KeyError, struct.error, ... on damaged files) is bad input
        raise InputError(parameter, "a readable image file (JPEG, PNG, BMP, WebP, TIFF, ...)",
                         f"{origin} that could not be decoded ({type(e).__name__})") from None


def _from_array(a: np.ndarray, parameter: str) -> np.ndarray:
    """RGB of a uint8 array; the shape is checked before the grey channel is expanded or anything is copied."""
    if a.dtype != np.uint8:
        raise InputError(parameter, "a uint8 array (H, W) grey or (H, W, 3) RGB", _describe(a))
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (1, 3, 4))):
        raise InputError(parameter, "a uint8 array (H, W) grey or (H, W, 3) RGB", _describe(a))
    h, w = int(a.shape[0]), int(a.shape[1])
    _check_size(w, h, parameter, _describe(a))
    if a.ndim == 3 and a.shape[2] in (3, 4):
        return np.ascontiguousarray(a[:, :, :3])
    rgb = np.empty((h, w, 3), np.uint8)
    rgb[...] = (a if a.ndim == 2 else a[:, :, 0])[:, :, None]
    return rgb


def load_image(face, *, parameter: str = "face") -> Image:
    """Normalise an image given as a path, encoded bytes or an array.

    Parameters
    ----------
    face : str or os.PathLike, bytes, or np.ndarray
        A path to an image file; encoded image bytes (JPEG, PNG, ...; 16-bit and 32-bit grey files are
        rescaled to 8 bits); or a uint8 array ``(H, W)`` grey,
        ``(H, W, 3)`` RGB or ``(H, W, 4)`` RGBA (alpha dropped).
    parameter : str
        Name used in error messages.

    Returns
    -------
    Image

    Raises
    ------
    InputError
        Missing or unreadable file, undecodable bytes, wrong dtype or shape, an image smaller than
        8x8, larger than :data:`MAX_PIXELS` or more than :data:`MAX_ASPECT` times longer than wide (or wider
        than long); sizes are checked on the header or the array's shape, before anything is decoded or copied.
        A damaged EXIF orientation tag is ignored (the image is used as stored).
    """
    if isinstance(face, (str, os.PathLike)):
        path = os.fspath(face)
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if not path or "\x00" in path:
            raise InputError(parameter, "a path to an existing image file", f"the path {path!r}")
        try:
            size = os.path.getsize(path)
            if not os.path.isfile(path):
                raise OSError("not a regular file")
            _check_encoded_size(size, parameter, f"the file {path!r}")
            with open(path, "rb") as f:
                rgb = _decode(f, parameter, f"the file {path!r}")
        except InputError:
            raise
        except OSError as e:
            raise InputError(parameter, "a path to an existing, readable image file",
                             f"{path!r} ({e.strerror or e})") from None
    elif isinstance(face, (bytes, bytearray, memoryview)):
        data = bytes(face) if isinstance(face, memoryview) else face
        _check_encoded_size(len(data), parameter, "bytes")
        rgb = _decode(io.BytesIO(data), parameter, "bytes")
    elif isinstance(face, np.ndarray):
        rgb = _from_array(face, parameter)
    else:
        raise InputError(parameter, "a path (str or os.PathLike), encoded image bytes, or a uint8 NumPy array",
                         _describe(face))
    rgb = rgb.view()  # a read-only view: the caller's array keeps its own flags
    rgb.setflags(write=False)
    return Image(rgb=rgb)
