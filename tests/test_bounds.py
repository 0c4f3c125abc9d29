"""Issue 29: images, the detector's tiling and physiology: sizes checked before allocation, typed errors, quality.

Every input here is made by the test, small, in memory or in its own temporary folder.
"""

import io
import math
import struct
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import cxsense
from cxsense import limits
from cxsense.inputs.image import load_image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from hostile import jpeg_bad_exif, jpeg_claiming, png_bytes, tiff_bad_frames, traced_peak  # noqa: E402


# ------------------------------------------------------------------------------------------------ images

@pytest.mark.parametrize("w,h", [(8, 7_999_999), (7_999_999, 8), (21 * 100, 100)])
def test_strips_beyond_the_aspect_limit_are_refused_from_the_header(w, h):
    t0 = time.perf_counter()
    with pytest.raises(cxsense.InputError, match="at most 20 times its shorter side") as e:
        load_image(png_bytes(w, h))
    assert time.perf_counter() - t0 < 2.0
    assert e.value.parameter == "face" and f"{w}x{h}" in str(e.value)


def test_header_claims_are_checked_before_decoding():
    # a 333-byte JPEG claiming 9000 x 8000 (72 megapixels): refused on the header, nothing decoded
    with pytest.raises(cxsense.InputError, match="at most 64000000 pixels"):
        load_image(jpeg_claiming(9000, 8000))
    with pytest.raises(cxsense.InputError, match="at least 8x8"):
        load_image(png_bytes(4, 4000))


@pytest.mark.parametrize("n", [20_000, 100_000])
def test_broadcast_arrays_are_checked_on_their_shape(n):
    def refuse_all():
        for shape in ((n, n), (n, n, 1), (n, n, 3)):
            with pytest.raises(cxsense.InputError, match="at most 64000000 pixels"):
                load_image(np.broadcast_to(np.uint8(0), shape))

    assert traced_peak(refuse_all)[1] < 1_000_000  # nothing that scales with the claimed size


def test_grey_and_rgba_arrays_expand_as_before():
    rng = np.random.default_rng(0)
    g = rng.integers(0, 256, (30, 40), dtype=np.uint8)
    np.testing.assert_array_equal(load_image(g).rgb, np.repeat(g[:, :, None], 3, axis=2))
    np.testing.assert_array_equal(load_image(g[:, :, None]).rgb, np.repeat(g[:, :, None], 3, axis=2))
    rgba = rng.integers(0, 256, (30, 40, 4), dtype=np.uint8)
    np.testing.assert_array_equal(load_image(rgba).rgb, rgba[:, :, :3])


def test_16_bit_rounding_in_integers_equals_the_float_rounding():
    from cxsense.inputs.image import _grey_to_uint8

    v = np.arange(65536, dtype=np.uint16).reshape(256, 256)
    ref = np.clip(np.rint(v / 257.0), 0, 255).astype(np.uint8)  # what the whole-image float path computed
    np.testing.assert_array_equal(_grey_to_uint8(v, "I;16", 0.0, 0.0), ref)


@pytest.mark.parametrize("kind", ["I;16", "I-wide", "I-neg", "F-unit", "F-nan", "L", "RGB", "P", "RGBA", "CMYK"])
def test_strip_conversion_equals_whole_image_conversion(kind, monkeypatch):
    """Many strips, the last one short, give what one strip over the whole image gives (the 32-bit paths read
    the image's range over all strips first)."""
    from PIL import Image

    import cxsense.inputs.image as mod

    rng = np.random.default_rng(1)
    h, w = 53, 37
    if kind == "I;16":
        im = Image.fromarray(rng.integers(0, 65536, (h, w)).astype(np.uint16))
    elif kind == "I-wide":
        im = Image.fromarray(rng.integers(0, 200_000, (h, w)).astype(np.int32), mode="I")
    elif kind == "I-neg":
        im = Image.fromarray(rng.integers(-500, 500, (h, w)).astype(np.int32), mode="I")
    elif kind.startswith("F"):
        a = rng.random((h, w)).astype(np.float32)
        if kind == "F-nan":
            a[3, 4], a[10, 1], a[20, 30] = np.nan, np.inf, -np.inf
            a *= 3000
        im = Image.fromarray(a, mode="F")
    else:
        im = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).convert(kind)
    buf = io.BytesIO()
    im.save(buf, format="TIFF" if kind != "P" else "PNG")
    whole = load_image(buf.getvalue()).rgb
    monkeypatch.setattr(mod, "_STRIP_PIXELS", w * 11)
    np.testing.assert_array_equal(load_image(buf.getvalue()).rgb, whole)
    if kind not in ("I;16", "I-wide", "I-neg") and not kind.startswith("F"):
        np.testing.assert_array_equal(whole, np.asarray(im.convert("RGB")))


def test_16_bit_png_of_8000_squared_decodes_without_float_copies():
    """A 16-bit PNG (here 2000 x 2000, the same path as 8000 x 8000): the conversion allocates the output and
    one strip at a time, never float64 copies of the whole image (issue 29: 2.05 GB at 8000 x 8000)."""
    img, peak = traced_peak(load_image, png_bytes(2000, 2000, 16, 30000))
    assert img.rgb.shape == (2000, 2000, 3) and int(img.rgb[0, 0, 0]) == round(30000 / 257)
    # the output (12 MB) and one strip as uint16, uint32 and uint8 (8 + 16 + 4 MB); the old path held at least
    # three whole-image float64 arrays at once (3 x 32 MB) besides its output
    assert peak < 12e6 + 32e6, peak


def test_damaged_exif_is_ignored_and_a_valid_orientation_is_honoured():
    from PIL import Image

    img = load_image(jpeg_bad_exif())  # PIL's exif_transpose raised struct.error on this file
    assert img.rgb.shape == (64, 64, 3)
    rgb = np.zeros((20, 40, 3), np.uint8)
    rgb[:, :20] = 255
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", exif=exif, quality=95)
    out = load_image(buf.getvalue()).rgb
    assert out.shape == (40, 20, 3)
    assert out[:20].mean() > 200 and out[20:].mean() < 50  # the white left half is now on top


def test_tiff_with_a_damaged_second_frame_gives_its_first_frame():
    img = load_image(tiff_bad_frames())  # n_frames raised TypeError: Missing dimensions
    assert img.rgb.shape == (16, 16, 3) and int(img.rgb.max()) == 0


def test_every_decoder_failure_is_an_input_error():
    from PIL import Image

    frames = [Image.fromarray(np.full((16, 16), i * 40, np.uint8)) for i in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, "TIFF", save_all=True, append_images=frames[1:])
    good = buf.getvalue()
    rng = np.random.default_rng(3)
    for _ in range(300):  # random byte mutations of a multi-page TIFF: a result or an InputError, nothing else
        d = bytearray(good)
        for p in rng.integers(0, len(d), 3):
            d[p] = int(rng.integers(0, 256))
        try:
            load_image(bytes(d))
        except cxsense.InputError:
            pass


# ------------------------------------------------------------------------------------------------ detector

def test_tile_grid_stays_within_the_budget():
    from cxsense.encoders.face.detect import tile_grid

    for h, w in [(480, 640), (3000, 4000), (4000, 6000), (8000, 8000), (1789, 35777), (45000, 1414), (8, 20000)]:
        scale, (hh, ww), ys, xs = tile_grid(h, w)
        assert len(ys) * len(xs) <= limits.DETECT_MAX_TILES
        assert 0 < scale <= 1.0 and abs(hh - h * scale) <= 1 and abs(ww - w * scale) <= 1
        assert ys[-1] + limits.DETECT_TILE >= hh and xs[-1] + limits.DETECT_TILE >= ww  # the grid covers it
    assert tile_grid(4000, 6000)[0] == 1.0  # a 24-megapixel photo is tiled at full size


def test_detector_work_is_bounded_on_a_blank_8000_square(monkeypatch):
    """The blank 8000 x 8000 image of issue 29 (235 s / 2.97 GB with the 8 x 7,999,999 strip; 15 s / 2.97 GB
    here): count the detector passes and the pixels each one is given (the network itself is replaced by a
    recorder, so the test measures the plan, fast)."""
    from cxsense.encoders.face.detect import FaceDetector

    calls = []
    monkeypatch.setattr(FaceDetector, "__init__", lambda self, *a, **k: None)
    monkeypatch.setattr(FaceDetector, "_detect_once", lambda self, rgb: calls.append(rgb.shape) or [])
    rgb = np.broadcast_to(np.uint8(0), (8000, 8000, 3))
    assert FaceDetector().detect(rgb) == []
    assert len(calls) <= 1 + limits.DETECT_MAX_TILES + 2
    closeups = calls[-2:]
    assert all(max(s[:2]) <= 3 * limits.DETECT_CLOSEUP_MAX_SIDE + 2 for s in closeups)
    assert all(max(s[:2]) <= limits.DETECT_TILE for s in calls[1:-2])


def test_a_face_is_still_found_in_a_large_image(face_rgb):
    import cv2

    from cxsense.encoders import get_encoder
    from cxsense.inputs.image import Image

    big = np.full((5000, 5000, 3), 90, np.uint8)
    big[2000:2100, 3000:3100] = cv2.resize(face_rgb[30:250, 110:330], (100, 100))  # a 100-px face
    dets = get_encoder("face").detect(Image(rgb=big), tiled=True)
    assert dets and abs(dets[0].box[0] + dets[0].box[2] / 2 - 3050) < 40


# ------------------------------------------------------------------------------------------------ physiology

def _ppg(seconds=60.0, rate=64, scale=1.0):
    t = np.arange(int(seconds * rate)) / rate
    return scale * (np.sin(2 * np.pi * 1.2 * t) + 0.3 * np.sin(4 * np.pi * 1.2 * t))


@pytest.mark.parametrize("scale", [1e200, 1e306, -1e20])
def test_huge_physio_amplitudes_are_input_errors(scale):
    with pytest.raises(cxsense.InputError, match="magnitude at most") as e:
        cxsense.assess(physio={"ppg": (_ppg(scale=scale), 64)})
    assert e.value.parameter == "physio['ppg']"


def test_a_processing_failure_inside_neurokit_becomes_quality_zero():
    """A PhysioInput made directly skips load_physio's checks: NeuroKit2's IndexError (its squares overflow) is
    turned into a channel left out with its reason."""
    from cxsense.encoders import get_encoder
    from cxsense.inputs.physio import Channel, PhysioInput

    x = PhysioInput(channels={"ppg": Channel(samples=_ppg(scale=1e200), sampling_rate=64.0)})
    r = get_encoder("physio").encode(x)
    assert r.quality == 0
    assert "signal processing failed (IndexError" in " ".join(r.details["channels"]["ppg"]["reasons"])


def test_too_many_physio_samples_are_refused_on_the_shape():
    n = limits.PHYSIO_MAX_SAMPLES + 1
    with pytest.raises(cxsense.InputError, match=f"at most {limits.PHYSIO_MAX_SAMPLES} samples"):
        cxsense.assess(physio={"eda": (np.broadcast_to(np.float64(2.0), (n,)), 4)})


def test_window_quality_rule():
    from cxsense.encoders.physio.quality import window_quality

    assert window_quality(60) == window_quality(120) == window_quality(600) == 1.0
    assert math.isclose(window_quality(30), math.sqrt(0.5))
    assert math.isclose(window_quality(3600), math.sqrt(600 / 3600))
    assert window_quality(10 * 3600) < 0.14


def test_a_long_physio_window_is_not_full_quality():
    from cxsense.encoders import get_encoder
    from cxsense.encoders.physio.pipeline import extract
    from cxsense.inputs.physio import load_physio

    enc = get_encoder("physio")
    x = load_physio({"ppg": (_ppg(1800), 64)})
    r = enc.encode(x)
    groups = sum(enc._model.group_weights.get(g, 0.0) * q for g, q in extract(x).group_quality.items())
    assert groups > 0 and math.isclose(r.quality, min(1.0, groups) * math.sqrt(600 / 1800), rel_tol=1e-9)


# ------------------------------------------------------------------------------------------------ face quality

def test_noise_crop_without_detection_is_not_full_quality(face_rgb):
    import cv2

    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (48, 48), dtype=np.uint8)
    q_noise = cxsense.assess(face=noise, detect_face=False).modalities["face"].quality
    crop = cv2.resize(cv2.cvtColor(face_rgb[30:250, 110:330], cv2.COLOR_RGB2GRAY), (48, 48))
    q_face = cxsense.assess(face=crop, detect_face=False).modalities["face"].quality
    assert q_noise <= 0.15 and q_face >= 0.5


def test_crop_quality_rule():
    from cxsense.encoders.face.quality import FACE_SCORE_FULL, NO_FACE_QUALITY, face_likeness

    assert face_likeness(0.0) == NO_FACE_QUALITY
    assert face_likeness(0.5) == NO_FACE_QUALITY
    assert face_likeness(FACE_SCORE_FULL) == face_likeness(0.99) == 1.0
    assert NO_FACE_QUALITY < face_likeness(0.58) < 1.0


def test_private_neurokit_gives_the_same_numbers_and_cannot_plot(monkeypatch):
    import neurokit2 as real

    from cxsense.encoders.physio import _neurokit
    from cxsense.errors import NotAvailableError

    monkeypatch.delitem(sys.modules, "neurokit2")  # as if the caller had not imported it
    nk = _neurokit.neurokit()
    assert nk is not real and nk.__name__ == _neurokit.PRIVATE_NAME
    x = _ppg(60) + 0.05 * np.random.default_rng(0).standard_normal(64 * 60)
    eda = np.full(240, 2.0) + np.sin(np.arange(240) / 9)
    peaks, phasic = [], []
    for m in (real, nk):
        peaks.append(m.ppg_findpeaks(m.ppg_clean(x, sampling_rate=64), sampling_rate=64)["PPG_Peaks"])
        phasic.append(m.eda_phasic(eda, sampling_rate=4, method="highpass").to_numpy())
    assert len(peaks[0]) > 50
    np.testing.assert_array_equal(peaks[0], peaks[1])
    np.testing.assert_array_equal(phasic[0], phasic[1])
    with pytest.raises(NotAvailableError, match="plots or downloads"):
        nk.signal_plot(x)
