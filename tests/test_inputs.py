"""Bad input raises InputError naming the parameter, what is allowed and what was given."""

import io

import numpy as np
import pytest

import cxsense


@pytest.mark.parametrize(
    "bad, fragment",
    [
        (np.zeros((48, 48), np.float32), "dtype float32"),
        (np.zeros((48, 48, 5), np.uint8), "shape (48, 48, 5)"),
        (np.zeros((48,), np.uint8), "shape (48,)"),
        (np.zeros((4, 4), np.uint8), "4x4"),
        (b"", "0 bytes"),
        (b"\x89PNG\r\n\x1a\n not really a png", "could not be decoded"),
        ([1, 2, 3], "a list"),
        (12, "a int"),
    ],
)
def test_bad_face_input(bad, fragment):
    with pytest.raises(cxsense.InputError) as e:
        cxsense.assess(face=bad)
    msg = str(e.value)
    assert "'face'" in msg and fragment in msg


def test_missing_and_directory_paths(tmp_path):
    with pytest.raises(cxsense.InputError, match="missing.png"):
        cxsense.assess(face=tmp_path / "missing.png")
    with pytest.raises(cxsense.InputError, match="'face'"):
        cxsense.assess(face=str(tmp_path))


def test_truncated_jpeg(face_path):
    data = face_path.read_bytes()
    with pytest.raises(cxsense.InputError, match="'face'"):
        cxsense.assess(face=data[: len(data) // 3])


def test_huge_image_is_refused_before_decoding():
    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (9000, 9000)).save(buf, format="PNG")  # 81 megapixels, a few kB compressed
    with pytest.raises(cxsense.InputError, match="at most 64000000 pixels"):
        cxsense.assess(face=buf.getvalue())
    big = np.broadcast_to(np.zeros((1, 1), np.uint8), (9000, 9000))
    with pytest.raises(cxsense.InputError, match="at most 64000000 pixels"):
        cxsense.assess(face=big)


def test_no_input_and_bad_options(face_path):
    with pytest.raises(cxsense.InputError, match="at least one input"):
        cxsense.assess()
    with pytest.raises(cxsense.InputError, match="'detect_face'"):
        cxsense.assess(face=face_path, detect_face="yes")
    with pytest.raises(cxsense.InputError, match="'colour'"):
        cxsense.assess(face=face_path, colour=True)


@pytest.mark.parametrize("mode", ["I;16", "I", "F"])
def test_high_bit_depth_grey_files_are_rescaled(face_rgb, mode):
    """16-bit PNG and 32-bit TIFF greys (lab and posed-face datasets) decode to the same 8-bit image,
    not to the white image PIL's own conversion gives."""
    from PIL import Image

    from cxsense.inputs.image import load_image

    g8 = np.asarray(Image.fromarray(face_rgb).convert("L"))
    if mode == "I;16":
        im, fmt = Image.fromarray(g8.astype(np.uint16) * 257), "PNG"
    elif mode == "I":
        im, fmt = Image.fromarray(g8.astype(np.int32) * 257, mode="I"), "TIFF"
    else:
        im, fmt = Image.fromarray(g8.astype(np.float32) / 255, mode="F"), "TIFF"
    buf = io.BytesIO()
    im.save(buf, format=fmt)
    img = load_image(buf.getvalue())
    assert np.abs(img.rgb[:, :, 0].astype(int) - g8).max() <= 1
    assert cxsense.assess(face=buf.getvalue()).emotion == cxsense.assess(face=g8).emotion
