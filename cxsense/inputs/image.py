"""Image input: a path, encoded bytes or a NumPy array becomes one uint8 RGB array."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass

import numpy as np

from ..errors import InputError

__all__ = ["Image", "load_image", "MAX_PIXELS", "MAX_FILE_BYTES"]

#: Largest image accepted, in pixels (64 megapixels): larger ones, and decompression bombs, raise InputError.
MAX_PIXELS = 64_000_000
#: Largest encoded image accepted, in bytes (100 MB).
MAX_FILE_BYTES = 100_000_000
#: Smallest side accepted, in pixels.
MIN_SIDE = 8


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


def _to_rgb8(im) -> np.ndarray:
    """8-bit RGB of a decoded PIL image. High-bit-depth grey (16-bit PNG or TIFF, 32-bit integer or float
    TIFF) is rescaled: PIL's own ``convert("RGB")`` clips every value above 255, which turns a 16-bit
    image white."""
    if im.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        a = np.asarray(im, dtype=np.float64)
        if im.mode.startswith("I;16"):
            a = a / 257.0
        else:  # 32-bit int or float: the 16-bit range when it fits, else the image's own range
            a = np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0)
            lo, hi = float(a.min()), float(a.max())
            if lo >= 0 and hi <= 1.0 and im.mode == "F":
                a = a * 255.0
            elif lo >= 0 and hi <= 255:
                pass
            elif lo >= 0 and hi <= 65535:
                a = a / 257.0
            else:
                a = (a - lo) / max(hi - lo, 1e-12) * 255.0
        g = np.clip(np.rint(a), 0, 255).astype(np.uint8)
        return np.repeat(g[:, :, None], 3, axis=2)
    return np.asarray(im.convert("RGB"), dtype=np.uint8)


def _decode(data: bytes, parameter: str, origin: str) -> np.ndarray:
    from PIL import Image as PILImage, ImageOps, UnidentifiedImageError

    if len(data) == 0:
        raise InputError(parameter, "a non-empty image (JPEG, PNG, BMP, WebP, TIFF, ...)", f"{origin} of 0 bytes")
    if len(data) > MAX_FILE_BYTES:
        raise InputError(parameter, f"an encoded image of at most {MAX_FILE_BYTES} bytes", f"{origin} of {len(data)} bytes")
    try:
        with PILImage.open(io.BytesIO(data)) as im:
            w, h = im.size
            if w * h > MAX_PIXELS:
                raise InputError(parameter, f"an image of at most {MAX_PIXELS} pixels", f"{origin} of {w}x{h} pixels")
            if getattr(im, "n_frames", 1) > 1:
                im.seek(0)  # animated formats: the first frame
            im = ImageOps.exif_transpose(im)  # phone photos: honour the orientation tag
            rgb = _to_rgb8(im)
    except InputError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, PILImage.DecompressionBombError) as e:
        raise InputError(parameter, "a readable image file (JPEG, PNG, BMP, WebP, TIFF, ...)",
                         f"{origin} that could not be decoded ({type(e).__name__})") from None
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
        8x8 or larger than :data:`MAX_PIXELS`.
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
            if size > MAX_FILE_BYTES:
                raise InputError(parameter, f"an image file of at most {MAX_FILE_BYTES} bytes", f"{path!r} of {size} bytes")
            with open(path, "rb") as f:
                data = f.read()
        except InputError:
            raise
        except OSError as e:
            raise InputError(parameter, "a path to an existing, readable image file",
                             f"{path!r} ({e.strerror or e})") from None
        rgb = _decode(data, parameter, f"the file {path!r}")
    elif isinstance(face, (bytes, bytearray, memoryview)):
        rgb = _decode(bytes(face), parameter, "bytes")
    elif isinstance(face, np.ndarray):
        a = face
        if a.dtype != np.uint8:
            raise InputError(parameter, "a uint8 array (H, W) grey or (H, W, 3) RGB", _describe(a))
        if a.ndim == 3 and a.shape[2] == 1:
            a = a[:, :, 0]
        if a.ndim == 2:
            rgb = np.repeat(a[:, :, None], 3, axis=2)
        elif a.ndim == 3 and a.shape[2] in (3, 4):
            rgb = a[:, :, :3]
        else:
            raise InputError(parameter, "a uint8 array (H, W) grey or (H, W, 3) RGB", _describe(a))
        if a.shape[0] * a.shape[1] > MAX_PIXELS:
            raise InputError(parameter, f"an image of at most {MAX_PIXELS} pixels", _describe(a))
        rgb = np.ascontiguousarray(rgb)
    else:
        raise InputError(parameter, "a path (str or os.PathLike), encoded image bytes, or a uint8 NumPy array",
                         _describe(face))
    if min(rgb.shape[:2]) < MIN_SIDE:
        raise InputError(parameter, f"an image of at least {MIN_SIDE}x{MIN_SIDE} pixels",
                         f"an image of {rgb.shape[1]}x{rgb.shape[0]} pixels")
    rgb = rgb.view()  # a read-only view: the caller's array keeps its own flags
    rgb.setflags(write=False)
    return Image(rgb=rgb)
