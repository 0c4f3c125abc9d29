"""Generated footage for ``benchmarks/real_footage.py`` and ``training/face/fit_drawn_face.py``: titles with music,
non-face video, faces in scenes.

Everything here is drawn with numpy and OpenCV from a seed (nothing is read but the FER-2013 crops and the
shipped portrait that the caller passes in). Frames are 640x480 RGB uint8.

- :func:`title_clip`: an animated title: rendered text in several OpenCV fonts and sizes, logo-like badges,
  shapes and drawn cartoon faces moving over a gradient or a texture (``cartoons=False`` leaves the cartoon faces
  out); pair it with :func:`soundtrack` (synthetic music, no voice).
- :func:`nonface_clip`: one kind of non-face video (``text``, ``shapes``, ``textures``, ``noise``, ``natural``)
  with slow camera motion and moving layers.
- :func:`scene_with_face`: a face crop (a FER-2013 crop upscaled, or the portrait) blended into a textured
  640x480 frame through a feathered ellipse, its border blurred around it, so the face has context.
- :func:`person_clip`: one person who leaves (slides out of the frame and never comes back) or appears mid-clip.
- :func:`through_h264`: frames written as H.264 (crf 23) and decoded again, as a session would read them.
"""

from __future__ import annotations

import numpy as np

H, W = 480, 640
FONTS = ("FONT_HERSHEY_SIMPLEX", "FONT_HERSHEY_DUPLEX", "FONT_HERSHEY_COMPLEX", "FONT_HERSHEY_TRIPLEX",
         "FONT_HERSHEY_SCRIPT_SIMPLEX", "FONT_HERSHEY_SCRIPT_COMPLEX", "FONT_HERSHEY_PLAIN",
         "FONT_HERSHEY_COMPLEX_SMALL")
WORDS = ("PRESENTS", "THE", "NEW", "SEASON", "Episode 4", "Coming soon", "STUDIO", "Directed by", "A FILM BY",
         "2026", "ACME", "Summer Sale", "LIVE", "www.example.org", "Chapter One", "The End", "Credits", "OK", "@home",
         "O O", "oo", "(o_o)", ":-)", "8", "00", "Hello", "MUSIC BY", "Starring", "LOGO", "Q&A", "WOW", "Zoo")

__all__ = ["title_clip", "nonface_clip", "scene_with_face", "person_clip", "soundtrack", "through_h264", "background",
           "sprite_cartoon", "paste", "NONFACE_KINDS"]


def _colour(rng) -> tuple:
    return tuple(int(v) for v in rng.integers(0, 256, 3))


def _field(rng, h: int, w: int, sigma: float) -> np.ndarray:
    """Smooth noise in [-1, 1] (a blurred Gaussian field)."""
    import cv2

    v = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), sigma)
    return v / (np.abs(v).max() + 1e-6)


def _fbm(rng, h: int, w: int, octaves: int = 5) -> np.ndarray:
    """Fractal (1/f-like) noise in [0, 1]: clouds, terrain, bark."""
    v = sum(_field(rng, h, w, 64 / 2 ** k) / 1.7 ** k for k in range(octaves))
    return (v - v.min()) / (np.ptp(v) + 1e-6)


def _ramp(v: np.ndarray, colours) -> np.ndarray:
    """Map values in [0, 1] through a piecewise-linear colour ramp -> RGB uint8."""
    stops = np.linspace(0, 1, len(colours))
    c = np.array(colours, np.float32)
    return np.stack([np.interp(v, stops, c[:, k]) for k in range(3)], -1).astype(np.uint8)


def background(kind: str, rng, h: int = H + 160, w: int = W + 160) -> np.ndarray:
    """A canvas larger than a frame (the camera pans over it): gradient, radial, clouds, stripes, checker, wood."""
    import cv2

    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == "gradient":
        a = rng.uniform(0, np.pi)
        v = (np.cos(a) * xx + np.sin(a) * yy)
        return _ramp((v - v.min()) / np.ptp(v), [_colour(rng) for _ in range(3)])
    if kind == "radial":
        v = np.hypot(xx - rng.uniform(0, w), yy - rng.uniform(0, h))
        return _ramp(v / v.max(), [_colour(rng) for _ in range(3)])
    if kind == "clouds":
        return _ramp(_fbm(rng, h, w), [(40, 80, 160), (120, 160, 220), (235, 235, 245)])
    if kind == "stripes":
        v = np.sin(2 * np.pi * (xx * rng.uniform(-1, 1) + yy * rng.uniform(-1, 1)) / rng.uniform(8, 60))
        return _ramp((v + 1) / 2, [_colour(rng), _colour(rng)])
    if kind == "checker":
        q = int(rng.integers(8, 64))
        return _ramp((((xx // q) + (yy // q)) % 2).astype(np.float32), [_colour(rng), _colour(rng)])
    if kind == "wood":
        r = np.hypot(xx - rng.uniform(-w, 2 * w), (yy - rng.uniform(0, h)) * 0.2) + 30 * _fbm(rng, h, w, 3)
        return _ramp((np.sin(r / rng.uniform(3, 10)) + 1) / 2, [(90, 50, 20), (170, 110, 60), (210, 160, 100)])
    if kind == "foliage":  # overlapping leaves (ellipses) in greens and browns, slightly blurred
        im = _ramp(_fbm(rng, h, w), [(20, 40, 10), (60, 100, 30), (120, 140, 60)])
        for _ in range(int(h * w / 900)):
            g = rng.uniform(0.4, 1.0)
            col = (int(40 * g + rng.integers(0, 60)), int(150 * g), int(40 * g))
            cv2.ellipse(im, (int(rng.integers(0, w)), int(rng.integers(0, h))),
                        (int(rng.integers(6, 30)), int(rng.integers(3, 12))), float(rng.uniform(0, 180)), 0, 360,
                        col, -1, cv2.LINE_AA)
        return cv2.GaussianBlur(im, (0, 0), 1.2)
    if kind == "terrain":  # hills, sky, water-like bands from fractal noise
        v = _fbm(rng, h, w)
        horizon = (yy / h) + 0.35 * (v - 0.5)
        return _ramp(np.clip(horizon, 0, 1), [(150, 190, 240), (200, 220, 240), (70, 120, 50), (110, 90, 60),
                                                (40, 70, 110)])
    if kind == "bokeh":
        im = _ramp(_fbm(rng, h, w, 3), [(10, 10, 30), (40, 30, 60)]).astype(np.float32)
        for _ in range(60):
            layer = np.zeros((h, w), np.float32)
            cv2.circle(layer, (int(rng.integers(0, w)), int(rng.integers(0, h))), int(rng.integers(8, 45)), 1.0, -1,
                       cv2.LINE_AA)
            im += cv2.GaussianBlur(layer, (0, 0), 3)[..., None] * np.array(_colour(rng), np.float32) * 0.5
        return np.clip(im, 0, 255).astype(np.uint8)
    if kind == "bark":
        v = _fbm(rng, h, w)
        v = (np.sin(xx / rng.uniform(4, 12) + 8 * v) + 1) / 2
        return _ramp(v, [(50, 35, 25), (110, 85, 60), (160, 130, 100)])
    raise ValueError(kind)


def _sprite_text(rng, word: str | None = None) -> np.ndarray:
    """RGBA sprite of a word in a random OpenCV font, size, colour and thickness (with an outline sometimes)."""
    import cv2

    word = word or str(rng.choice(WORDS))
    font = getattr(cv2, str(rng.choice(FONTS)))
    scale, th = float(rng.uniform(0.8, 4.0)), int(rng.integers(1, 8))
    (tw, tht), base = cv2.getTextSize(word, font, scale, th)
    pad = th + 4
    im = np.zeros((tht + base + 2 * pad, tw + 2 * pad, 4), np.uint8)
    org = (pad, pad + tht)
    if rng.random() < 0.4:
        cv2.putText(im, word, org, font, scale, (*_colour(rng), 255), th + 4, cv2.LINE_AA)
    cv2.putText(im, word, org, font, scale, (*_colour(rng), 255), th, cv2.LINE_AA)
    return im


def _sprite_logo(rng) -> np.ndarray:
    """RGBA badge: concentric discs or a rounded square with one to three letters, sometimes a ring of dots."""
    import cv2

    s = int(rng.integers(60, 220))
    im = np.zeros((s, s, 4), np.uint8)
    c = (s // 2, s // 2)
    if rng.random() < 0.5:
        for r in sorted(rng.integers(s // 6, s // 2, int(rng.integers(1, 4))), reverse=True):
            cv2.circle(im, c, int(r), (*_colour(rng), 255), -1, cv2.LINE_AA)
    else:
        cv2.rectangle(im, (s // 10, s // 10), (s - s // 10, s - s // 10), (*_colour(rng), 255), -1, cv2.LINE_AA)
    if rng.random() < 0.4:
        for a in np.linspace(0, 2 * np.pi, int(rng.integers(5, 12)), endpoint=False):
            cv2.circle(im, (int(c[0] + 0.38 * s * np.cos(a)), int(c[1] + 0.38 * s * np.sin(a))), max(2, s // 25),
                       (*_colour(rng), 255), -1, cv2.LINE_AA)
    word = "".join(rng.choice(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ0@&"), int(rng.integers(1, 4))))
    scale = s / 70 / len(word) ** 0.5
    (tw, th), _ = cv2.getTextSize(word, cv2.FONT_HERSHEY_DUPLEX, scale, max(1, s // 30))
    cv2.putText(im, word, (c[0] - tw // 2, c[1] + th // 2), cv2.FONT_HERSHEY_DUPLEX, scale, (*_colour(rng), 255),
                max(1, s // 30), cv2.LINE_AA)
    return im


def _sprite_shape(rng) -> np.ndarray:
    """RGBA sprite of a few filled or outlined circles, rectangles, polygons and stars."""
    import cv2

    s = int(rng.integers(50, 200))
    im = np.zeros((s, s, 4), np.uint8)
    for _ in range(int(rng.integers(1, 5))):
        col, k = (*_colour(rng), 255), int(rng.integers(4))
        if k == 0:
            cv2.circle(im, tuple(int(v) for v in rng.integers(s // 4, 3 * s // 4, 2)), int(rng.integers(5, s // 3)),
                       col, int(rng.choice([-1, 3, 6])), cv2.LINE_AA)
        elif k == 1:
            p = rng.integers(0, s, 4)
            cv2.rectangle(im, (int(p[0]), int(p[1])), (int(p[2]), int(p[3])), col, int(rng.choice([-1, 4])))
        elif k == 2:
            cv2.fillPoly(im, [rng.integers(0, s, (int(rng.integers(3, 7)), 2)).astype(np.int32)], col, cv2.LINE_AA)
        else:  # a star
            a = np.linspace(0, 2 * np.pi, 11)[:-1] + rng.uniform(0, 1)
            r = np.where(np.arange(10) % 2 == 0, s * 0.45, s * 0.2)
            pts = np.stack([s / 2 + r * np.cos(a), s / 2 + r * np.sin(a)], 1).astype(np.int32)
            cv2.fillPoly(im, [pts], col, cv2.LINE_AA)
    return im


def sprite_cartoon(rng) -> np.ndarray:
    """RGBA drawn cartoon face: a disc (yellow, skin-like or any colour), two eyes (dots, ellipses with pupils or
    arcs), sometimes brows and a nose, a mouth (smile arc, open 'O', straight line or a grin with teeth)."""
    import cv2

    s = int(rng.integers(70, 230))
    im = np.zeros((s, s, 4), np.uint8)
    c, r = (s // 2, s // 2), int(s * 0.45)
    skin = [(250, 215, 40), (240, 190, 150), (200, 150, 110), _colour(rng)][int(rng.integers(4))]
    cv2.circle(im, c, r, (*skin, 255), -1, cv2.LINE_AA)
    cv2.circle(im, c, r, (30, 30, 30, 255), max(1, s // 40), cv2.LINE_AA)
    dark, ex, ey = (20, 20, 20, 255), int(r * rng.uniform(0.3, 0.45)), int(r * rng.uniform(0.15, 0.4))
    eye = int(rng.integers(3))
    for sx in (-1, 1):
        p = (c[0] + sx * ex, c[1] - ey)
        if eye == 0:
            cv2.circle(im, p, max(2, r // 8), dark, -1, cv2.LINE_AA)
        elif eye == 1:
            cv2.ellipse(im, p, (max(3, r // 6), max(4, r // 4)), 0, 0, 360, (255, 255, 255, 255), -1, cv2.LINE_AA)
            cv2.ellipse(im, p, (max(3, r // 6), max(4, r // 4)), 0, 0, 360, dark, max(1, s // 60), cv2.LINE_AA)
            cv2.circle(im, (p[0], p[1] + r // 12), max(2, r // 12), dark, -1, cv2.LINE_AA)
        else:
            cv2.ellipse(im, p, (max(3, r // 6), max(3, r // 8)), 0, 180, 360, dark, max(2, s // 40), cv2.LINE_AA)
        if rng.random() < 0.5:
            cv2.line(im, (p[0] - r // 6, p[1] - r // 4 - sx * r // 20), (p[0] + r // 6, p[1] - r // 4 + sx * r // 20),
                     dark, max(2, s // 45), cv2.LINE_AA)
    if rng.random() < 0.5:
        cv2.circle(im, (c[0], c[1] + r // 10), max(2, r // 12), (200, 90, 60, 255), -1, cv2.LINE_AA)
    mouth, my = int(rng.integers(4)), c[1] + int(r * rng.uniform(0.35, 0.55))
    if mouth == 0:
        cv2.ellipse(im, (c[0], my - r // 6), (r // 2, r // 4), 0, 10, 170, dark, max(2, s // 35), cv2.LINE_AA)
    elif mouth == 1:
        cv2.ellipse(im, (c[0], my), (r // 6, r // 5), 0, 0, 360, dark, -1, cv2.LINE_AA)
    elif mouth == 2:
        cv2.line(im, (c[0] - r // 3, my), (c[0] + r // 3, my), dark, max(2, s // 35), cv2.LINE_AA)
    else:
        cv2.ellipse(im, (c[0], my - r // 8), (r // 2, r // 3), 0, 0, 180, (120, 20, 20, 255), -1, cv2.LINE_AA)
        cv2.rectangle(im, (c[0] - r // 3, my - r // 8), (c[0] + r // 3, my - r // 8 + r // 10), (255, 255, 255, 255),
                      -1)
    return im


def paste(frame: np.ndarray, sprite: np.ndarray, x: float, y: float) -> None:
    """Alpha-blend an RGBA sprite into the frame with its top-left corner at (x, y) (clipped to the frame)."""
    h, w = sprite.shape[:2]
    x, y = int(round(x)), int(round(y))
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, frame.shape[1]), min(y + h, frame.shape[0])
    if x1 <= x0 or y1 <= y0:
        return
    s = sprite[y0 - y:y1 - y, x0 - x:x1 - x]
    a = s[..., 3:4].astype(np.float32) / 255
    dst = frame[y0:y1, x0:x1]
    dst[:] = (s[..., :3] * a + dst * (1 - a)).astype(np.uint8)


class _Layers:
    """Sprites moving on straight or wavy paths over a panning background; ``frame(t)`` renders time t."""

    def __init__(self, rng, sprites: list, bg: np.ndarray, life: float):
        self.bg, self.items = bg, []
        for sp in sprites:
            t0 = float(rng.uniform(0, life))
            p0 = rng.uniform([-100, -60], [W, H])
            v = rng.uniform(-90, 90, 2)
            self.items.append((sp, t0, p0, v, float(rng.uniform(0.3, 1.5)), float(rng.uniform(2, 6))))
        self.pan = rng.uniform(-8, 8, 2)

    def frame(self, t: float) -> np.ndarray:
        bh, bw = self.bg.shape[:2]
        ox = int((bw - W) / 2 + (bw - W) / 2 * np.sin(self.pan[0] * t / 40))
        oy = int((bh - H) / 2 + (bh - H) / 2 * np.sin(self.pan[1] * t / 40))
        f = self.bg[oy:oy + H, ox:ox + W].copy()
        for sp, t0, p0, v, wob, dur in self.items:
            if t0 <= t < t0 + dur:
                dt = t - t0
                paste(f, sp, p0[0] + v[0] * dt, p0[1] + v[1] * dt + 20 * np.sin(wob * dt * 2 * np.pi))
        return f


def title_clip(seconds: float, seed: int = 0, fps: int = 25, cartoons: bool = True, per_second: float = 2.0):
    """``i -> frame``: an animated title (see the module docstring); sprites live 2-6 s each."""
    rng = np.random.default_rng(seed)
    makers = [_sprite_text, _sprite_text, _sprite_logo, _sprite_shape] + ([sprite_cartoon] if cartoons else [])
    n = max(4, int(per_second * seconds))
    sprites = [makers[int(rng.integers(len(makers)))](rng) for _ in range(n)]
    if cartoons:  # at least a few cartoon faces in every clip
        sprites[: max(2, n // 8)] = [sprite_cartoon(rng) for _ in range(max(2, n // 8))]
    bg = background(str(rng.choice(["gradient", "radial", "clouds", "stripes", "wood", "checker"])), rng)
    layers = _Layers(rng, sprites, bg, max(seconds - 2, 1))
    return lambda i: layers.frame(i / fps)


NONFACE_KINDS = ("text", "shapes", "textures", "noise", "natural")


def nonface_clip(kind: str, seconds: float, seed: int = 0, fps: int = 25):
    """``i -> frame``: one kind of non-face video (:data:`NONFACE_KINDS`); a new scene every 10 s."""
    import cv2

    rng = np.random.default_rng(seed)
    scenes = []
    for _ in range(int(np.ceil(seconds / 10))):
        if kind == "text":  # credits, subtitles and captions over plain or gradient backgrounds
            bg = background(str(rng.choice(["gradient", "radial"])), rng)
            scenes.append(_Layers(rng, [_sprite_text(rng) for _ in range(30)], bg, 8))
        elif kind == "shapes":  # shapes and logo badges
            bg = background(str(rng.choice(["gradient", "checker", "stripes"])), rng)
            scenes.append(_Layers(rng, [(_sprite_logo if rng.random() < 0.5 else _sprite_shape)(rng)
                                        for _ in range(24)], bg, 8))
        elif kind == "textures":
            scenes.append(_Layers(rng, [], background(str(rng.choice(["stripes", "checker", "wood", "clouds"])), rng),
                                  8))
        elif kind == "natural":
            scenes.append(_Layers(rng, [], background(str(rng.choice(["foliage", "terrain", "bokeh", "bark",
                                                                       "clouds"])), rng), 8))
        elif kind == "noise":
            scenes.append(None)
        else:
            raise ValueError(kind)
    sigma = float(rng.uniform(10, 60))

    def make(i):
        t = i / fps
        sc = scenes[min(int(t // 10), len(scenes) - 1)]
        if sc is None:  # TV static, sometimes blurred
            f = np.clip(rng.normal(128, sigma, (H, W, 3)), 0, 255).astype(np.uint8)
            return cv2.GaussianBlur(f, (0, 0), 1.5) if int(t // 5) % 2 else f
        return sc.frame(t % 10)

    return make


def scene_with_face(face: np.ndarray, size: int, rng, bg: np.ndarray | None = None, at=None) -> np.ndarray:
    """A 640x480 frame with ``face`` (grey ``(h, w)`` or RGB) resized to ``size`` px, its border replicated by a
    quarter of a face on each side and blurred (the head and hair around the crop), blended into a background
    through a feathered ellipse. ``at``: the top-left corner of the padded face (random by default)."""
    import cv2

    f = face if face.ndim == 3 else np.repeat(face[:, :, None], 3, 2)
    up = cv2.resize(f, (size, size), interpolation=cv2.INTER_CUBIC)
    pad = size // 4
    big = cv2.copyMakeBorder(up, pad, pad, pad, pad, cv2.BORDER_REPLICATE).astype(np.float32)
    n = big.shape[0]
    inner = np.zeros((n, n), np.float32)
    inner[pad:pad + size, pad:pad + size] = 1
    inner = cv2.GaussianBlur(inner, (0, 0), size / 30)[..., None]
    big = big * inner + cv2.GaussianBlur(big, (0, 0), size / 8) * (1 - inner)
    mask = np.zeros((n, n), np.float32)
    cv2.ellipse(mask, (n // 2, n // 2), (int(0.45 * n), int(0.5 * n)), 0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), n / 16)[..., None]
    if bg is None:
        bg = background(str(rng.choice(["gradient", "clouds", "wood", "foliage", "bokeh"])), rng)
    out = bg[:H, :W].astype(np.float32).copy()
    x, y = at if at is not None else (int(rng.integers(0, max(W - n, 1))), int(rng.integers(0, max(H - n, 1))))
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + n, W), min(y + n, H)
    if x1 > x0 and y1 > y0:
        m = mask[y0 - y:y1 - y, x0 - x:x1 - x]
        out[y0:y1, x0:x1] = big[y0 - y:y1 - y, x0 - x:x1 - x] * m + out[y0:y1, x0:x1] * (1 - m)
    return out.astype(np.uint8)


def person_clip(face: np.ndarray, mode: str, seconds: float = 10.0, fps: int = 25, size: int = 160, seed: int = 0,
                slide: float = 1.2):
    """``i -> frame``: one face drifting over a background that ``"leave"``s (slides out of the frame in ``slide``
    seconds from 40 % of the clip and never comes back) or ``"appear"``s (slides in from 40 %). Returns the
    function and the time (s) at which the face is fully out (leave) or starts to enter (appear)."""
    rng = np.random.default_rng(seed)
    bg = background(str(rng.choice(["gradient", "clouds", "wood"])), rng)
    side = int(rng.choice([-1, 1]))
    t_mid = 0.4 * seconds
    n = size + 2 * (size // 4)  # the padded face's side (scene_with_face)
    rest_x, y = (W - n) / 2, (H - n) / 2

    def make(i):
        t = i / fps
        k = (t - t_mid) / slide if mode == "leave" else 1 - (t - t_mid) / slide
        k = float(np.clip(k, 0, 1))  # 0: at rest, 1: out of the frame
        x = rest_x + side * k * (W + n) / 2 + 15 * np.sin(t)
        if k >= 1:
            return bg[:H, :W].copy()
        return scene_with_face(face, size, rng, bg=bg, at=(int(x), int(y + 8 * np.cos(0.7 * t))))

    return make, t_mid + (slide if mode == "leave" else 0.0)


def soundtrack(seconds: float, seed: int = 0) -> np.ndarray:
    """Synthetic music, 16 kHz mono float32, no voice: a random score from ``training/common/music_synth.py`` (held-out
    instrument families, so it shares no timbre with the speech/music classifier's training music)."""
    from training.common.music_synth import make_score, render_additive

    rng = np.random.default_rng(seed)
    parts, n = [], 0
    while n < seconds * 16000:  # pieces of up to 30 s, one after the other
        d = min(30.0, seconds - n / 16000 + 0.1)
        score = make_score(d, rng, held_out=True)
        y = render_additive(score, rng, held_out=True)
        parts.append(y)
        n += len(y)
    return np.concatenate(parts)[: int(seconds * 16000)].astype(np.float32)


def through_h264(frames: list) -> list:
    """The frames (RGB uint8) written as H.264 at 25 fps (:func:`cxsense.session.testing.write_video`) and decoded
    again (:mod:`cxsense.session.decode`): the compression a session's frames have been through."""
    import os
    import tempfile

    from cxsense.session.decode import decode, open_video
    from cxsense.session.testing import write_video

    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "v.mp4")
        write_video(p, frames, fps=25)
        c, info = open_video(p)
        return [fr.to_ndarray(format="rgb24") for kind, _, fr in decode(c, info) if kind == "video"]
