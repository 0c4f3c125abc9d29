"""Cue events in live sessions: a jaw drop pushed frame by frame is returned once, after its hold, near its onset."""

import numpy as np

import cxsense


def test_live_jaw_drop_is_returned_once_after_its_hold(jaw_drop_clip):
    times, frames, change = jaw_drop_clip
    live = cxsense.LiveSession()
    assert len(live.events()) == 0  # nothing pushed yet
    found = []
    for t, f in zip(times, frames):
        live.push_frame(f, t)
        ev = live.events()
        found += [(t, row) for row in ev.itertuples()]
    jaw = [(t, r) for t, r in found if r.kind == "jaw_drop"]
    assert len(jaw) == 1, found
    seen_at, r = jaw[0]
    assert abs(r.time - change) <= 1.0 and r.person == "p0" and r.signal == "mouth_open"
    assert seen_at >= r.peak_time - 1e-9  # returned only once the rule could decide it
    assert len(live.events()) == 0  # nothing new since


def test_live_events_without_a_face_are_empty_and_keep_only_a_bounded_history(rng):
    from cxsense.session.live import CUE_HISTORY

    live = cxsense.LiveSession()
    noise = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    for i in range(30):
        live.push_frame(noise, i * 0.5)
    ev = live.events()
    assert len(ev) == 0 and list(ev.columns) == ["time", "person", "kind", "signal", "strength", "peak_time",
                                                  "peak_value"]
    kept = [t for t, _ in live._cues]
    assert kept[0] >= live.time - CUE_HISTORY and len(kept) <= CUE_HISTORY / 0.5 + 1
