"""Reactions that trigger actions (cxsense.rules): parsing, timing (for_s, hysteresis, cooldown), actions."""

import time

import pytest
from _loopback import Receiver

import cxsense
from cxsense.rules import Rules, measures_of


def a(happiness=0.1, anger=0.0, stress=0.2, cues=None, face_quality=0.9):
    """An Assessment-shaped dict (as ``to_dict()`` gives) with the given values."""
    rest = (1.0 - happiness - anger) / 5
    probs = {e: rest for e in cxsense.EMOTIONS}
    probs.update(happiness=happiness, anger=anger)
    d = {"emotion": max(probs, key=probs.get), "probabilities": probs, "valence": 0.0, "arousal": 0.0,
         "stress": stress, "confidence": 0.5, "incongruence": 0.0,
         "modalities": {"face": {"probabilities": probs, "quality": face_quality, "valence": 0.1, "arousal": 0.2,
                                 "stress": None}}}
    if cues is not None:
        d["cues"] = cues
    return d


FRUSTRATED = {"name": "frustrated", "cooldown_s": 60,
              "when": {"any": [{"measure": "anger", "above": 0.6}, {"measure": "stress", "above": 0.7}], "for_s": 3}}


@pytest.mark.parametrize("spec, where", [
    ({"name": "x", "when": {"measure": "angr", "above": 0.5}}, "rules[0].when.measure"),
    ({"name": "x", "when": {"measure": "anger"}}, "rules[0].when"),
    ({"name": "x", "when": {"measure": "anger", "above": 0.8, "below": 0.2}}, "rules[0].when"),
    ({"name": "x", "when": {"any": []}}, "rules[0].when.any"),
    ({"name": "x", "when": {"any": [{"measure": "anger", "above": "high"}]}}, "rules[0].when.any[0]"),
    ({"name": "x", "when": {"measure": "anger", "above": 0.5}, "then": {"webhook": "ftp://h/x"}}, "rules[0].then.webhook.url"),
    ({"name": "x", "when": {"measure": "anger", "above": 0.5}, "then": {"webhook": {"url": "http://h/", "timeout_s": 60}}},
     "rules[0].then.webhook.timeout_s"),
    ({"name": "x", "when": {"measure": "anger", "above": 0.5}, "cooldown_s": -1}, "rules[0].cooldown_s"),
    ({"name": "x", "when": {"measure": "anger", "above": 0.5}, "unless": 1}, "rules[0]"),
    ({"when": {"measure": "anger", "above": 0.5}}, "rules[0].name"),
])
def test_malformed_rules_name_where(spec, where):
    with pytest.raises(cxsense.InputError) as e:
        Rules([spec])
    assert e.value.parameter == where


def test_duplicate_names_and_missing_callbacks_are_refused():
    r = {"name": "x", "when": {"measure": "anger", "above": 0.5}}
    with pytest.raises(cxsense.InputError, match="unique"):
        Rules([r, r])
    with pytest.raises(cxsense.InputError) as e:
        Rules([{**r, "then": {"callback": "notify"}}])
    assert e.value.parameter == "callbacks"


def test_for_s_cooldown_and_one_firing_per_episode():
    rules = Rules([FRUSTRATED])
    fired = []
    for t in range(0, 20):  # anger high from t=2 on, for 18 s
        fired += rules.evaluate(a(anger=0.8 if t >= 2 else 0.1), t=float(t))
    assert [(f.rule, f.t) for f in fired] == [("frustrated", 5.0)]  # held 3 s; then once for the whole episode
    assert fired[0].measures == {"anger": 0.8, "stress": 0.2}
    fired = []
    for t in range(20, 120):  # episodes of 4 s high, 2 s low: the cooldown of 60 s lets one through per minute
        fired += rules.evaluate(a(anger=0.8 if (t % 6) < 4 else 0.1), t=float(t))
    assert [f.t for f in fired] == [69.0]  # first episode starting after 65 s of cooldown, held 3 s (t=66..69)


def test_hysteresis_keeps_noise_at_the_threshold_from_firing_again():
    rules = Rules([{"name": "smile", "when": {"measure": "happiness", "above": 0.6}, "hysteresis": 0.1}])
    noisy = [0.5, 0.65, 0.58, 0.62, 0.55, 0.61, 0.52, 0.45, 0.7]  # dips stay above 0.5 until 0.45
    times = [f.t for t, v in enumerate(noisy) for f in rules.evaluate(a(happiness=v), t=float(t))]
    assert times == [1.0, 8.0]
    no_hyst = Rules([{"name": "smile", "when": {"measure": "happiness", "above": 0.6}, "hysteresis": 0}])
    times = [f.t for t, v in enumerate(noisy) for f in no_hyst.evaluate(a(happiness=v), t=float(t))]
    assert times == [1.0, 3.0, 5.0, 8.0]


def test_all_band_missing_measures_and_no_signal():
    rules = Rules([{"name": "calm_smile", "when": {"all": [{"measure": "happiness", "above": 0.5},
                                                            {"measure": "stress", "below": 0.3},
                                                            {"measure": "face.quality", "above": 0.5, "below": 1.0}]}},
                   {"name": "looking_away", "when": {"measure": "head_yaw", "above": 30}}])
    assert [f.rule for f in rules.evaluate(a(happiness=0.7, stress=0.5), t=0)] == []
    assert [f.rule for f in rules.evaluate(a(happiness=0.7, stress=0.1), t=1)] == ["calm_smile"]
    assert rules.evaluate(None, t=2) == []  # no signal: every condition false, the episode ends
    assert [f.rule for f in rules.evaluate(a(happiness=0.7, stress=0.1, cues={"head_yaw": 45.0}), t=3)] == \
        ["calm_smile", "looking_away"]
    with pytest.raises(cxsense.InputError) as e:
        rules.evaluate(a(), t=1.0)  # time going backwards
    assert e.value.parameter == "t"


def test_callbacks_run_and_a_failing_one_is_counted_not_raised():
    got = []

    def boom(f):
        raise RuntimeError("app bug")

    rules = Rules([{"name": "x", "when": {"measure": "anger", "above": 0.5}, "then": {"callback": "note"}},
                   {"name": "y", "when": {"measure": "anger", "above": 0.5}, "then": {"callback": "boom"}}],
                  callbacks={"note": got.append, "boom": boom})
    fired = rules.evaluate(a(anger=0.9), t=0)
    assert [f.rule for f in fired] == ["x", "y"] and [f.rule for f in got] == ["x"] and rules.errors == 1


def test_webhook_posts_json_with_retries_and_never_blocks(tmp_path):
    spec = {"name": "frustrated", "when": {"measure": "anger", "above": 0.6}}
    with Receiver(fail_first=1) as rx:
        rules = Rules([{**spec, "then": {"webhook": {"url": rx.url, "retries": 2, "timeout_s": 2}}}])
        rules.evaluate(a(anger=0.9), t=1.5)
        (body,) = rx.wait(1)
        rules.close()
    assert body["rule"] == "frustrated" and body["t"] == 1.5 and body["measures"] == {"anger": 0.9}
    assert rx.hits == 2 and rules.sender.stats["sent"] == 1 and rules.sender.stats["retried"] == 1
    with Receiver(delay=1.5) as slow:  # a receiver slower than the timeout: bounded failure, caller not blocked
        rules = Rules([{**spec, "then": {"webhook": {"url": slow.url, "retries": 1, "timeout_s": 0.3}}}])
        t0 = time.monotonic()
        rules.evaluate(a(anger=0.9), t=0)
        assert time.monotonic() - t0 < 0.1
        end = time.monotonic() + 10
        while rules.sender.stats["failed"] == 0 and time.monotonic() < end:
            time.sleep(0.05)
        assert rules.sender.stats["failed"] == 1 and time.monotonic() - t0 < 5
        rules.close(timeout=1)


def test_rules_file_and_a_live_session(tmp_path, face_rgb):
    path = tmp_path / "RULES.json"
    path.write_text('{"rules": [{"name": "delight", "when": {"measure": "happiness", "above": 0.6, "for_s": 0.2}, '
                    '"cooldown_s": 10, "then": {"callback": "note"}}]}')
    got = []
    rules = Rules.load(path, callbacks={"note": got.append})
    live = cxsense.LiveSession()
    for i in range(4):
        live.push_frame(face_rgb, i * 0.1)
        assessment = live.assessment()
        assert measures_of(assessment) == measures_of(assessment.to_dict())
        rules.evaluate(assessment, t=live.time)
    assert [(f.rule, round(f.t, 6)) for f in got] == [("delight", 0.2)]
    assert got[0].measures["happiness"] == pytest.approx(assessment.probabilities["happiness"], abs=0.05)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(cxsense.InputError) as e:
        Rules.load(tmp_path / "bad.json")
    assert e.value.parameter == "rules"
