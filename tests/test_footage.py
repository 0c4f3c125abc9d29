"""Footage a CX researcher records (issue 24): an animated title with music gives no person and no voice, a person
who leaves or appears is one person, drawn faces are not photographed ones. Small media made here."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from cxsense.session import analyze_session
from cxsense.session.testing import write_video

SR = 16000


def _cartoon(size: int) -> np.ndarray:
    """A drawn face (a skin-coloured disc, eyes with pupils, brows, a grin with teeth) on a transparent square:
    RGBA. The detector fires on it and the face mesh reads it as a face (presence about 1.0)."""
    import cv2

    im = np.zeros((size, size, 4), np.uint8)
    c, r, ink = (size // 2, size // 2), int(0.45 * size), (20, 20, 20, 255)
    cv2.circle(im, c, r, (240, 190, 150, 255), -1, cv2.LINE_AA)
    cv2.circle(im, c, r, (30, 30, 30, 255), 3, cv2.LINE_AA)
    for sx in (-1, 1):
        p = (c[0] + sx * r * 2 // 5, c[1] - r // 4)
        cv2.ellipse(im, p, (r // 6, r // 4), 0, 0, 360, (255, 255, 255, 255), -1, cv2.LINE_AA)
        cv2.ellipse(im, p, (r // 6, r // 4), 0, 0, 360, ink, 2, cv2.LINE_AA)
        cv2.circle(im, (p[0], p[1] + r // 12), r // 12, ink, -1, cv2.LINE_AA)
        cv2.line(im, (p[0] - r // 6, p[1] - r // 3), (p[0] + r // 6, p[1] - r // 3), ink, 4, cv2.LINE_AA)
    my = c[1] + r // 2
    cv2.ellipse(im, (c[0], my - r // 8), (r // 2, r // 3), 0, 0, 180, (120, 20, 20, 255), -1, cv2.LINE_AA)
    cv2.rectangle(im, (c[0] - r // 3, my - r // 8), (c[0] + r // 3, my - r // 8 + r // 10), (255, 255, 255, 255), -1)
    return im


@functools.lru_cache(maxsize=1)
def _gradient() -> np.ndarray:
    yy, xx = np.mgrid[0:480, 0:640]
    return np.stack([60 + 0.2 * xx, 30 + 0.3 * yy, 120 + 0 * xx], -1).clip(0, 255).astype(np.uint8)


def _title_frame(i: int, fps: int = 25) -> np.ndarray:
    """An animated title: a gradient, words in three fonts, a badge, and a cartoon face moving across."""
    import cv2

    t = i / fps
    f = _gradient().copy()
    words = (("PRESENTS", cv2.FONT_HERSHEY_DUPLEX), ("Episode 4", cv2.FONT_HERSHEY_SCRIPT_SIMPLEX),
             ("ACME 2026", cv2.FONT_HERSHEY_TRIPLEX))
    for k, (word, font) in enumerate(words):
        cv2.putText(f, word, (int(30 + 40 * t + 60 * k), 80 + 140 * k), font, 1.5 + 0.5 * k, (250, 250, 250), 3,
                    cv2.LINE_AA)
    cv2.circle(f, (520, int(380 - 30 * t)), 60, (200, 40, 40), -1, cv2.LINE_AA)
    cv2.putText(f, "OK", (480, int(400 - 30 * t)), cv2.FONT_HERSHEY_DUPLEX, 1.6, (255, 255, 255), 5, cv2.LINE_AA)
    sp = _cartoon(150)
    x, y = int(200 + 50 * t), 170
    a = sp[..., 3:4] / 255.0
    f[y:y + 150, x:x + 150] = (sp[..., :3] * a + f[y:y + 150, x:x + 150] * (1 - a)).astype(np.uint8)
    return f


def test_title_with_music_gives_no_person_and_no_voice(tmp_path):
    """Text, a badge and a cartoon face over a gradient, with music: no person, no voice row, and notes saying
    why. The cartoon face is found by the detector and seen as a face by the mesh; it is the drawn-face check
    that stops it."""
    from test_speech_music import music

    from cxsense.encoders import get_encoder
    from cxsense.encoders.face.drawn import NOT_PHOTOGRAPHED
    from cxsense.inputs.image import load_image
    from cxsense.options import FaceOptions

    enc = get_encoder("face", FaceOptions())
    img = load_image(_title_frame(25), parameter="frame")
    dets = enc.detect(img, tiled="auto")
    assert dets, "the detector should fire on the cartoon face (else this test proves nothing)"
    reasons = [enc.read_face(img, d, FaceOptions()).details.get("reason") for d in dets]
    assert NOT_PHOTOGRAPHED in reasons
    assert any(enc.read_face(img, d, FaceOptions(cues="off")).quality > 0 for d in dets)  # unconfirmed, a "face"

    p = tmp_path / "title.mp4"
    write_video(p, _title_frame, n_frames=100, fps=25, audio=music(4.0, seed=7))
    s = analyze_session(p)
    tl = s.timeline
    assert s.info["persons_seen"] == [] and (tl["person"] == "-").all(), s.info
    assert (tl["voice_quality"] == 0).all() and not tl["voice_fused"].any()
    notes = s.info["notes"]
    assert any(n.startswith("no face found in 4 of 4 steps") for n in notes), notes
    assert any(n.startswith("music without speech in ") for n in notes), notes


def _slide(face_rgb, mode: str, n_frames: int = 50, fps: int = 10, size: int = 130):
    """``i -> frame``: the portrait's face that slides out of the frame from 2.0 s (``leave``) or in from 2.0 s
    (``appear``), over 0.5 s, on a grey frame."""
    import cv2

    face = cv2.resize(np.ascontiguousarray(face_rgb[30:210, 140:320]), (size, size))

    def make(i):
        t = i / fps
        k = float(np.clip((t - 2.0) / 0.5, 0, 1))
        k = k if mode == "leave" else 1 - k  # 0: in place, 1: out of the frame
        x = int(250 + k * 420)
        f = np.full((480, 640, 3), 60, np.uint8)
        if x < 640:
            f[170:170 + size, x:min(x + size, 640)] = face[:, :640 - x]
        return f

    return make


@pytest.mark.parametrize("mode", ["leave", "appear"])
def test_one_person_who_leaves_or_appears_is_one_person(tmp_path, face_rgb, mode):
    p = tmp_path / f"{mode}.mp4"
    write_video(p, _slide(face_rgb, mode), n_frames=50, fps=10)
    s = analyze_session(p)
    tl = s.timeline
    assert s.info["persons_seen"] == ["p0"], (s.info["persons_seen"], s.info["notes"])
    faced = tl.loc[tl["person"] == "p0", "time"].tolist()
    assert faced == ([0.0, 1.0, 2.0] if mode == "leave" else [2.0, 3.0, 4.0]), tl[["time", "person", "face_quality"]]
    assert any(n.startswith("no face found in 2 of 5 steps") for n in s.info["notes"]), s.info["notes"]


def test_drawn_faces_are_flat_and_photographs_are_not(face_rgb):
    import cv2

    from cxsense.encoders.face.drawn import DRAWN_FLAT_SHARE, flat_share, looks_drawn

    cartoon = cv2.cvtColor(np.ascontiguousarray(_cartoon(48)[..., :3]), cv2.COLOR_RGB2GRAY)
    photo = cv2.resize(cv2.cvtColor(np.ascontiguousarray(face_rgb[30:210, 140:320]), cv2.COLOR_RGB2GRAY), (48, 48),
                       interpolation=cv2.INTER_AREA)
    assert looks_drawn(cartoon) and flat_share(cartoon) > 2 * DRAWN_FLAT_SHARE
    assert not looks_drawn(photo) and flat_share(photo) < DRAWN_FLAT_SHARE / 2
    assert not looks_drawn(np.full((48, 48), 255, np.uint8))  # blown out (clipped) is not drawn
    assert not looks_drawn(np.zeros((48, 48), np.uint8))
    assert looks_drawn(np.full((48, 48), 128, np.uint8))
    assert flat_share(np.zeros((1, 1), np.uint8)) == 0.0
    # one flat occluder (a plain mask over the mouth and chin, or dark glasses) leaves the other half textured
    masked, glasses = photo.copy(), photo.copy()
    masked[26:46, 6:42] = 150
    glasses[14:22, 6:42] = 60
    assert not looks_drawn(masked) and not looks_drawn(glasses)
    # through the encoder: the masked portrait is still a face (quality > 0), the cartoon is not
    import cxsense

    frame = np.full((240, 320, 3), 40, np.uint8)
    face = face_rgb[30:190, 135:295].copy()
    face[96:125, 48:112] = face[80, 80]
    frame[40:200, 80:240] = cv2.resize(face, (160, 160))
    assert cxsense.assess(face=frame).modalities["face"].quality > 0
