"""Cue events over synthetic timelines: known answers for jaw drops, smile onsets, looking away and blinks."""

import numpy as np
import pandas as pd
import pytest

import cxsense
from cxsense.session.cue_events import (attention_share, blink_rate, count_blinks, cue_events, jaw_drop_events,
                                        looked_away_events, smile_onset_events)


def _timeline(t, **cols):
    return pd.DataFrame({"time": t, "person": "p0", **cols})


def _step(t, t0, lo, hi, ramp=0.2):
    """lo before t0, a linear ramp of ``ramp`` seconds, then hi."""
    return lo + (hi - lo) * np.clip((t - t0) / ramp, 0, 1)


def test_jaw_drop_found_at_its_onset_with_surprise_and_not_without():
    t = np.arange(0, 20, 0.2)
    mouth = _step(t, 5.0, 0.05, 0.9) - _step(t, 9.0, 0.0, 0.85) + _step(t, 14.0, 0.0, 0.85)
    surprise = np.where((t > 4) & (t < 10), 0.6, 0.05)  # the second opening comes without surprise or brows
    ev = jaw_drop_events(_timeline(t, mouth_open=mouth, surprise=surprise, brow_raise=np.full_like(t, 0.1)))
    assert list(ev["kind"]) == ["jaw_drop"]
    assert abs(ev["time"].iloc[0] - 5.1) < 0.15  # half way up a ramp from 5.0 to 5.2 s
    assert ev["peak_value"].iloc[0] == pytest.approx(0.9)
    # with raised brows instead of surprise the second one counts too
    brows = np.where(t > 13, 0.8, 0.1)
    ev = jaw_drop_events(_timeline(t, mouth_open=mouth, surprise=surprise, brow_raise=brows))
    assert len(ev) == 2 and abs(ev["time"].iloc[1] - 14.1) < 0.15


def test_jaw_drop_needs_a_fast_rise_and_a_closed_mouth_before():
    t = np.arange(0, 20, 0.2)
    slow = _step(t, 5.0, 0.05, 0.9, ramp=4.0)  # four seconds to open: no jaw drop
    held = np.full_like(t, 0.9)  # open all along: no change seen
    for mouth in (slow, held):
        ev = jaw_drop_events(_timeline(t, mouth_open=mouth, surprise=np.full_like(t, 0.8)))
        assert len(ev) == 0


def test_no_event_across_a_gap_without_face():
    t = np.arange(0, 10, 0.2)
    mouth = _step(t, 5.0, 0.05, 0.9)
    mouth[(t > 3) & (t < 7)] = np.nan  # the face is lost over the change
    ev = jaw_drop_events(_timeline(t, mouth_open=mouth, surprise=np.full_like(t, 0.8)))
    assert len(ev) == 0


def test_smile_onset_per_person():
    t = np.arange(0, 10, 0.5)
    a = _timeline(t, smile=_step(t, 3.0, 0.1, 0.8, ramp=1.0))
    b = _timeline(t, smile=np.full_like(t, 0.1)).assign(person="p1")
    ev = smile_onset_events(pd.concat([a, b]))
    assert list(ev["person"]) == ["p0"] and abs(ev["time"].iloc[0] - 3.5) < 0.3


def test_looked_away_duration_and_attention_share():
    t = np.arange(0, 10, 0.25)
    gaze = np.where((t >= 4) & (t < 6), 0.1, 0.9)
    yaw = np.zeros_like(t)
    yaw[(t >= 8) & (t < 8.5)] = 45.0  # half a second turned away: too short for an event
    tl = _timeline(t, gaze_on_camera=gaze, head_yaw=yaw)
    ev = looked_away_events(tl)
    assert len(ev) == 1 and ev["time"].iloc[0] == pytest.approx(4.0) and ev["strength"].iloc[0] == pytest.approx(2.0)
    assert attention_share(tl) == pytest.approx(1 - 10 / 40)
    assert attention_share(_timeline(t, gaze_on_camera=np.full_like(t, np.nan), head_yaw=yaw)) is None


def test_blinks_counted_at_10_fps_and_refused_when_too_sparse():
    t = np.arange(0, 60, 0.1)
    eyes = np.full_like(t, 0.9)
    for tb in (5, 15, 25, 35, 45):  # five blinks of 0.2 s
        eyes[(t >= tb) & (t < tb + 0.2)] = 0.05
    eyes[(t >= 50) & (t < 53)] = 0.05  # eyes closed for 3 s: not a blink
    assert count_blinks(t, eyes) == 5
    assert blink_rate(_timeline(t, eyes_open=eyes)) == pytest.approx(5.0, rel=0.01)
    assert blink_rate(_timeline(t[::5], eyes_open=eyes[::5])) is None  # 2 frames per second


def test_cue_events_combines_and_bad_input_is_an_input_error():
    t = np.arange(0, 10, 0.2)
    tl = _timeline(t, mouth_open=_step(t, 5, 0.0, 0.9), surprise=np.where(t >= 5, 0.5, 0.02),
                   smile=np.full_like(t, 0.1), gaze_on_camera=np.full_like(t, 0.9), head_yaw=np.zeros_like(t))
    assert list(cue_events(tl)["kind"]) == ["jaw_drop"]
    with pytest.raises(cxsense.InputError, match="timeline"):
        jaw_drop_events(tl.drop(columns=["mouth_open"]))
    with pytest.raises(cxsense.InputError, match="timeline"):
        cue_events([1, 2, 3])
    with pytest.raises(cxsense.InputError, match="timeline"):
        smile_onset_events(tl.assign(time="x"))


def test_jaw_drop_from_a_face_that_rests_with_parted_lips_or_moves_its_brows_a_little():
    """The opening is read from the face's own rest: parted lips at rest (0.45) opening to 0.95 is a jaw drop;
    brows that rise by 0.15 from where this face holds them (never reaching 0.5) count as raised."""
    rng = np.random.default_rng(0)
    t = np.arange(0, 10, 0.1)
    parted = np.clip(_step(t, 5.0, 0.45, 0.95, ramp=0.3) + rng.normal(0, 0.03, t.size), 0, 1)
    rising = np.where(t >= 5.0, 0.6, 0.02)
    ev = jaw_drop_events(_timeline(t, mouth_open=parted, surprise=rising, brow_raise=np.full_like(t, 0.1)))
    assert list(ev["kind"]) == ["jaw_drop"] and abs(ev["time"].iloc[0] - 5.15) < 0.2
    closed = _step(t, 5.0, 0.05, 0.95, ramp=0.3)
    flat, little = np.full_like(t, 0.1), _step(t, 5.0, 0.1, 0.25, ramp=0.3)
    low_surprise = np.full_like(t, 0.05)
    assert len(jaw_drop_events(_timeline(t, mouth_open=closed, surprise=low_surprise, brow_raise=flat))) == 0
    assert len(jaw_drop_events(_timeline(t, mouth_open=closed, surprise=low_surprise, brow_raise=little))) == 1
    # a small opening (0.45 -> 0.75, a rise of 0.3) or a noisy resting aperture is not a jaw drop
    small = _step(t, 5.0, 0.45, 0.75, ramp=0.3)
    noisy = np.clip(0.32 + rng.normal(0, 0.08, t.size), 0, 1)
    for mouth in (small, noisy):
        assert len(jaw_drop_events(_timeline(t, mouth_open=mouth, surprise=rising))) == 0


def test_jaw_drop_is_not_speech_nor_a_dip_of_a_mouth_held_open():
    """Syllables (a mouth opening and closing at 4 Hz) and a one-frame dip of a mouth held open are no jaw drops,
    even when the expression network reads the open mouth as surprise; a mouth that opens and shuts within 0.3 s
    neither."""
    t = np.arange(0, 10, 0.1)
    surprise = np.where(t >= 5.0, 0.7, 0.02)
    speech = np.abs(np.sin(np.pi * 4.0 * t + 0.3)) * 0.95
    held = np.full_like(t, 0.9)
    held[50] = 0.3
    blip = _step(t, 5.0, 0.05, 0.9, ramp=0.1) - _step(t, 5.3, 0.0, 0.85, ramp=0.1)
    for mouth in (speech, held, blip):
        assert len(jaw_drop_events(_timeline(t, mouth_open=mouth, surprise=surprise))) == 0
    # the same jaw drop that stays open is one
    assert len(jaw_drop_events(_timeline(t, mouth_open=_step(t, 5.0, 0.05, 0.9), surprise=surprise))) == 1


def test_jaw_drop_reads_brows_against_their_own_rest_and_eyes_that_widen():
    """Without surprise: brows that rise by 0.07 from a still rest count (four times their resting spread, and at
    least 0.05), the same rise from a restless rest does not; eyes that widen by 0.3 count (FACS AU5)."""
    rng = np.random.default_rng(1)
    t = np.arange(0, 10, 0.1)
    mouth, low = _step(t, 5.0, 0.05, 0.95, ramp=0.3), np.full_like(t, 0.05)
    still = _step(t, 5.0, 0.10, 0.17, ramp=0.3) + rng.normal(0, 0.004, t.size)
    restless = _step(t, 5.0, 0.10, 0.17, ramp=0.3) + rng.normal(0, 0.03, t.size)
    assert len(jaw_drop_events(_timeline(t, mouth_open=mouth, surprise=low, brow_raise=still))) == 1
    assert len(jaw_drop_events(_timeline(t, mouth_open=mouth, surprise=low, brow_raise=restless))) == 0
    flat, eyes = np.full_like(t, 0.1), _step(t, 5.0, 0.5, 0.8, ramp=0.3)
    assert len(jaw_drop_events(_timeline(t, mouth_open=mouth, surprise=low, brow_raise=flat, eyes_open=eyes))) == 1
    assert len(jaw_drop_events(_timeline(t, mouth_open=mouth, surprise=low, brow_raise=flat,
                                         eyes_open=np.full_like(t, 0.5)))) == 0


def test_one_jaw_drop_when_the_face_is_lost_for_a_frame_while_open():
    """A mesh drop-out that reads the open mouth low for one frame does not re-arm the event (0.3 s needed)."""
    t = np.arange(0, 10, 0.1)
    mouth = _step(t, 4.0, 0.05, 0.9, ramp=0.2)
    mouth[52] = 0.1
    ev = jaw_drop_events(_timeline(t, mouth_open=mouth, surprise=np.where(t >= 4.0, 0.7, 0.02)))
    assert len(ev) == 1 and abs(ev["time"].iloc[0] - 4.1) < 0.15


def test_speech_that_starts_from_a_resting_mouth_is_not_a_jaw_drop():
    """An utterance after silence: the mouth rests, then syllables at 3-5 Hz seen at 10 frames per second open it to
    0.95 and shut it again, and the expression network reads surprise on every open frame. Its median over the second
    after the first opening is open, but the mouth reads closed again in several samples of that second: no jaw
    drop. A held opening with one closed sample (a mesh drop-out) still is one."""
    t = np.arange(0, 10, 0.1)
    for rate, phase in ((3.0, 0.2), (4.0, 0.0), (4.0, 0.6), (5.0, 1.2)):
        syllable = (t >= 5.0) & (np.abs(np.sin(np.pi * rate * (t - 5.0) + phase)) > 0.5)
        mouth = np.where(syllable, 0.95, 0.08)
        surprise = np.where(syllable, 0.7, 0.02)
        assert len(jaw_drop_events(_timeline(t, mouth_open=mouth, surprise=surprise))) == 0, rate
    held = _step(t, 5.0, 0.08, 0.95, ramp=0.1)
    held[55] = 0.08
    ev = jaw_drop_events(_timeline(t, mouth_open=held, surprise=np.where(t >= 5.0, 0.7, 0.02)))
    assert len(ev) == 1 and abs(ev["time"].iloc[0] - 5.05) < 0.1
    held[58] = 0.08  # two closed samples in the second after: the mouth did not stay open
    assert len(jaw_drop_events(_timeline(t, mouth_open=held, surprise=np.where(t >= 5.0, 0.7, 0.02)))) == 0


def test_jaw_drop_evidence_must_be_crossed_and_lips_may_rest_parted():
    """Surprise (>= 0.3) and raised brows (>= 0.5) count only where the face's own resting median is below that
    level: a face whose brows rest at 0.7 and whose surprise rests at 0.35 gives no jaw drop when only its mouth
    opens, and one when its surprise rises from 0.02. A face resting with parted lips (0.6) opening to 1.0 gives one;
    a mouth resting at 0.7 does not by the sixth rule's path (above its 0.65 rest limit) but does by the open-rest
    path (0.7 -> 1.0 is a rise of over 3 logits from a still rest)."""
    t = np.arange(0, 10, 0.1)
    mouth = _step(t, 5.0, 0.05, 0.95, ramp=0.2)
    high_brows, flat = np.full_like(t, 0.7), np.full_like(t, 0.1)
    sat = _timeline(t, mouth_open=mouth, surprise=np.full_like(t, 0.35), brow_raise=high_brows)
    assert len(jaw_drop_events(sat)) == 0
    assert len(jaw_drop_events(sat.assign(surprise=np.where(t >= 5.0, 0.6, 0.02)))) == 1
    rising = np.where(t >= 5.0, 0.8, 0.02)
    parted = _step(t, 5.0, 0.6, 1.0, ramp=0.2)
    ev = jaw_drop_events(_timeline(t, mouth_open=parted, surprise=rising, brow_raise=flat))
    assert len(ev) == 1 and abs(ev["time"].iloc[0] - 5.1) < 0.15
    wide = _timeline(t, mouth_open=_step(t, 5.0, 0.7, 1.0, ramp=0.2), surprise=rising, brow_raise=flat)
    assert len(jaw_drop_events(wide, open_rest_rise=None)) == 0 and len(jaw_drop_events(wide)) == 1


def _sig(z):
    return 1 / (1 + np.exp(-np.asarray(z, float)))


def test_jaw_drop_from_a_mouth_that_rests_open_needs_the_open_rest_path():
    t = np.arange(0, 12, 0.1)
    rng = np.random.default_rng(0)
    z = _step(t, 5.0, 1.4, 6.0, ramp=0.3) + rng.normal(0, 0.15, len(t))  # rests at 0.80, opens to 0.998
    surprise = np.where(t > 5.1, 0.7, 0.05)
    tl = _timeline(t, mouth_open=_sig(z), surprise=surprise)
    assert len(jaw_drop_events(tl, open_rest_rise=None)) == 0  # the sixth rule: a mouth resting above 0.65 is refused
    ev = jaw_drop_events(tl)  # the seventh rule's defaults: a rise of 3 logits and 4 resting spreads
    assert list(ev["kind"]) == ["jaw_drop"] and abs(ev["time"].iloc[0] - 5.15) < 0.15
    assert ev["strength"].iloc[0] == pytest.approx(float(_sig(6.0) - _sig(1.4)), abs=0.05)
    # the same rise without surprise, brows or eyes is no jaw drop; nor is a rise of 2 logits
    assert len(jaw_drop_events(tl.assign(surprise=0.05), open_rest_rise=3.0)) == 0
    small = _timeline(t, mouth_open=_sig(_step(t, 5.0, 1.4, 3.4, ramp=0.3)), surprise=surprise)
    assert len(jaw_drop_events(small, open_rest_rise=3.0)) == 0
    # a closed-rest jaw drop is found once, by the sixth rule's path, not again by the open-rest one
    closed = _timeline(t, mouth_open=_sig(_step(t, 5.0, -3.0, 4.0, ramp=0.3)), surprise=surprise)
    assert len(jaw_drop_events(closed)) == len(jaw_drop_events(closed, open_rest_rise=None)) == 1


def test_open_rest_path_refuses_syllables_and_a_wandering_rest():
    t = np.arange(0, 12, 0.1)
    surprise = np.where(t > 5.1, 0.7, 0.05)
    # talking from an open rest: the mouth closes back 4 times a second
    talk = 1.4 + np.where(t >= 5.0, 5.0 * np.abs(np.sin(np.pi * 4.0 * (t - 5.0))), 0.0)
    assert len(jaw_drop_events(_timeline(t, mouth_open=_sig(talk), surprise=surprise))) == 0
    # a rest that wanders by +/-1 logit (robust spread about 0.95): a rise of 3.5 from its low is under 4 spreads
    wander = np.where(t < 5.0, 1.4 + 1.0 * np.sin(np.pi * 1.3 * t), 3.9)
    tl = _timeline(t, mouth_open=_sig(wander), surprise=surprise)
    assert len(jaw_drop_events(tl, open_rest_sigmas=0.0)) == 1
    assert len(jaw_drop_events(tl)) == 0


def test_rest_sigmas_refuses_a_rise_within_the_rests_own_wandering():
    t = np.arange(0, 12, 0.1)
    surprise = np.where(t > 5.1, 0.7, 0.05)
    # rests between 0.05 and 0.55 (robust spread about 0.25 on the [0, 1] scale), then rises to 0.95 within a second
    wander = np.where(t < 5.0, 0.3 + 0.25 * np.sin(np.pi * 1.3 * t), 0.95)
    still = np.where(t < 5.0, 0.1, 0.95)
    for mouth, with_test in ((wander, 0), (still, 1)):
        tl = _timeline(t, mouth_open=mouth, surprise=surprise)
        assert len(jaw_drop_events(tl, rest_sigmas=0.0)) == 1
        assert len(jaw_drop_events(tl, rest_sigmas=4.0, rest_sigmas_scale="cue")) == with_test
    with pytest.raises(cxsense.InputError, match="rest_sigmas_scale"):
        jaw_drop_events(_timeline(t, mouth_open=still), rest_sigmas_scale="linear")
