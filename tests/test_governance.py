"""Responsible-use toolkit: policy refusal, notice, encrypted store with retention and deletion, audit chain."""

import json
import os
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

import cxsense
from cxsense import CxsenseError, InputError, PolicyError
from cxsense.governance import (AuditLog, ConsentRecord, ExpiredError, IntegrityError, ManualClock,
                                RecordNotFoundError, ResultStore, UsagePolicy, WrongKeyError, notice_text)
from cxsense.governance.store import FILENAME

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
REPO = Path(__file__).resolve().parents[1]


def _policy(**kw):
    base = dict(purpose="test reactions to a film trailer", context="media_testing",
                contact="Studio X, privacy@example.org", retention=timedelta(days=30))
    base.update(kw)
    return UsagePolicy(**base)


def _assessment_dict(rng, emotion="happiness"):
    """A typical Assessment.to_dict() shape, with embeddings, made here (no model run)."""
    p = rng.dirichlet(np.ones(7))
    probs = dict(zip(cxsense.EMOTIONS, map(float, p)))
    return {"emotion": emotion, "probabilities": probs, "valence": 0.4, "arousal": 0.1, "stress": 0.2,
            "confidence": 0.7,
            "modalities": {"face": {"modality": "face", "probabilities": probs, "quality": 0.9,
                                    "embedding": rng.standard_normal(64).astype(float).tolist(),
                                    "details": {"box": [10, 20, 64, 64]}, "model": {"name": "face"}}},
            "fusion": {"method": "rule"}, "cxsense_version": cxsense.__version__}


@pytest.fixture
def key():
    return ResultStore.new_key()


@pytest.fixture
def clock():
    """The stores' time in these tests (``now=`` may no longer stray from it)."""
    return ManualClock(T0)


def _blob(folder, n):
    """The ciphertext of the n-th record stored (1-based), read from the file."""
    db = sqlite3.connect(folder / FILENAME)
    try:
        return db.execute("SELECT blob FROM records WHERE rowid = ?", (n,)).fetchone()[0]
    finally:
        db.close()


# ------------------------------------------------------------------ policy and notice
@pytest.mark.parametrize("context", ["workplace", "education"])
def test_banned_contexts_are_refused_naming_the_article(context):
    with pytest.raises(PolicyError, match=r"Art\. 5\(1\)\(f\)"):
        _policy(context=context)
    assert issubclass(PolicyError, CxsenseError)
    # consent does not lift the ban
    c = ConsentRecord("p-001", T0, "emotion estimates during class")
    with pytest.raises(PolicyError, match=r"Art\. 5\(1\)\(f\)"):
        _policy(context=context, consents=[c])


@pytest.mark.parametrize("exemption", ["medical", "safety"])
def test_exemptions_allow_banned_contexts(exemption):
    p = _policy(context="workplace", exemption=exemption, purpose="detect driver fatigue in company trucks")
    assert p.exempted and p.check() is p
    assert exemption in notice_text(p) and "Art. 5(1)(f)" in notice_text(p)


def test_policy_fields_are_checked():
    with pytest.raises(InputError, match="context"):
        _policy(context="office")  # unknown contexts are refused: no banned use under another name
    with pytest.raises(InputError, match="exemption"):
        _policy(context="workplace", exemption="productivity")
    with pytest.raises(InputError, match="retention"):
        _policy(retention=timedelta(0))
    with pytest.raises(InputError, match="retention"):
        _policy(retention=float("nan"))
    with pytest.raises(InputError, match="purpose"):
        _policy(purpose="  ")
    with pytest.raises(InputError, match="subject"):
        ConsentRecord("Jane Doe <jane@example.org>", T0, "x")
    with pytest.raises(InputError, match="given_at"):
        ConsentRecord("p1", datetime(2026, 1, 1), "x")  # naive time
    assert _policy(retention=7).retention == timedelta(days=7)


def test_consent_lookup_honours_withdrawal():
    c = ConsentRecord("p1", T0, "trailer test", withdrawn_at=T0 + timedelta(days=2))
    p = _policy(consents=[c])
    assert p.consent_for("p1", T0 + timedelta(days=1)) is c
    assert p.consent_for("p1", T0 + timedelta(days=3)) is None
    assert p.consent_for("p2", T0 + timedelta(days=1)) is None


def test_notice_names_purpose_retention_estimates_and_rights():
    p = _policy(retention=timedelta(days=14), modalities=("face",))
    text = notice_text(p)
    assert "Art. 50(3)" in text
    assert "test reactions to a film trailer" in text
    assert "14 days" in text
    assert "privacy@example.org" in text
    assert "not a reading of your inner feelings" in text
    assert "No one is identified" in text
    assert "facial expression" in text and "tone of your voice" not in text  # only what the policy declares
    assert "delete" in text
    with pytest.raises(InputError, match="language"):
        notice_text(p, language="de")


# ------------------------------------------------------------------ store
def test_round_trip_and_embeddings_stripped(tmp_path, key, rng, clock):
    d = _assessment_dict(rng)
    timeline = [dict(_assessment_dict(rng), t=float(i)) for i in range(3)]
    with ResultStore(tmp_path / "s", key, _policy(), clock=clock) as store:
        rid = store.put(d, session_id="sess-1", person_id=0, now=T0)
        tid = store.put(timeline, session_id="sess-1", person_id=1)
        clock.advance(days=1)
        got = store.get(rid)
        tl = store.get(tid)
    assert got["probabilities"] == d["probabilities"] and got["emotion"] == "happiness"
    assert "embedding" not in got["modalities"]["face"]
    assert got["modalities"]["face"]["details"] == {"box": [10, 20, 64, 64]}
    assert len(tl) == 3 and all("embedding" not in x["modalities"]["face"] for x in tl) and tl[2]["t"] == 2.0
    # reopen with the same key: still readable; and embeddings kept on request
    with ResultStore(tmp_path / "s", key, _policy(), keep_embeddings=True, clock=clock) as store:
        assert store.get(rid)["valence"] == 0.4
        rid2 = store.put(d, session_id="sess-2")
        assert store.get(rid2)["modalities"]["face"]["embedding"] == d["modalities"]["face"]["embedding"]


def test_ciphertext_on_disk_is_not_plaintext(tmp_path, key, rng):
    with ResultStore(tmp_path / "s", key, _policy()) as store:
        store.put({"emotion": "sadness", "marker": "VISIBLE-MARKER-123"}, session_id="s1")
    raw = (tmp_path / "s" / FILENAME).read_bytes()
    assert b"VISIBLE-MARKER-123" not in raw and b"sadness" not in raw


def test_store_refuses_raw_media_and_bad_input(tmp_path, key):
    with ResultStore(tmp_path / "s", key, _policy()) as store:
        with pytest.raises(InputError):
            store.put(np.zeros((48, 48), np.uint8), session_id="s1")
        with pytest.raises(InputError):
            store.put({"frame": np.zeros((4, 4), np.uint8)}, session_id="s1")
        with pytest.raises(InputError):
            store.put({"audio": b"RIFF...."}, session_id="s1")
        with pytest.raises(InputError, match="raw signals"):
            store.put({"ecg": [0.1] * 10_000}, session_id="s1")
        with pytest.raises(InputError):
            store.put({"valence": float("nan")}, session_id="s1")
        with pytest.raises(InputError, match="session_id"):
            store.put({"a": 1}, session_id="../../etc/passwd")
        with pytest.raises(InputError, match="person_id"):
            store.put({"a": 1}, session_id="s1", person_id="Jane Doe")
        assert len(store) == 0
    with pytest.raises(InputError, match="key"):
        ResultStore(tmp_path / "s2", b"short", _policy())
    with pytest.raises(InputError, match="policy"):
        ResultStore(tmp_path / "s2", key, {"context": "media_testing"})


def test_tampered_ciphertext_and_metadata_are_detected(tmp_path, key, rng):
    folder = tmp_path / "s"
    with ResultStore(folder, key, _policy()) as store:
        rid = store.put(_assessment_dict(rng), session_id="s1")
        rid2 = store.put(_assessment_dict(rng), session_id="s1")
        rid3 = store.put(_assessment_dict(rng), session_id="s1")
    blob = bytearray(_blob(folder, 1))
    blob[40] ^= 0x01
    db = sqlite3.connect(folder / FILENAME)
    db.execute("UPDATE records SET blob = ? WHERE rowid = 1", (bytes(blob),))
    db.execute("UPDATE records SET expires = expires + 864000 WHERE rowid = 2")  # try to extend retention
    db.commit()
    db.close()
    with pytest.raises(IntegrityError, match="digest"):  # the edited expiry changes the store's digest
        ResultStore(folder, key, _policy())
    with ResultStore(folder, key, _policy(), reseal=True) as store:  # accepted as it is: each record still checked
        with pytest.raises(IntegrityError):
            store.get(rid)
        with pytest.raises(IntegrityError):
            store.get(rid2)
        assert store.get(rid3)["emotion"] == "happiness"
    assert issubclass(IntegrityError, CxsenseError)


def test_wrong_key_is_a_typed_error(tmp_path, key, rng):
    with ResultStore(tmp_path / "s", key, _policy()) as store:
        store.put(_assessment_dict(rng), session_id="s1")
    with pytest.raises(WrongKeyError):
        ResultStore(tmp_path / "s", ResultStore.new_key(), _policy())


def test_not_a_store_is_a_typed_error(tmp_path, key):
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / FILENAME).write_bytes(b"this is not a database" * 100)
    with pytest.raises(IntegrityError):
        ResultStore(folder, key, _policy())


def test_retention_refuses_expired_and_purge_destroys_on_disk(tmp_path, key, clock):
    folder = tmp_path / "s"
    policy = _policy(retention=timedelta(days=1))
    with ResultStore(folder, key, policy, clock=clock) as store:
        old = store.put({"emotion": "fear"}, session_id="s1")
        clock.advance(days=2)
        new = store.put({"emotion": "neutral"}, session_id="s1")
        old_blob = _blob(folder, 1)
        clock.advance(hours=1)
        with pytest.raises(ExpiredError):
            store.get(old)
        assert [r.record_id for r in store.records()] == [new]
        assert store.purge_expired() == 1
        with pytest.raises(RecordNotFoundError):
            store.get(old)
        assert store.get(new) == {"emotion": "neutral"}
    # on disk: the row is gone and its ciphertext bytes are nowhere in the folder
    db = sqlite3.connect(folder / FILENAME)
    assert db.execute("SELECT COUNT(*) FROM records").fetchone()[0] == 1
    db.close()
    for f in folder.iterdir():
        assert old_blob[12:44] not in f.read_bytes(), f


def test_deletion_per_person_and_per_session(tmp_path, key):
    folder = tmp_path / "s"
    with ResultStore(folder, key, _policy()) as store:
        ids = {(s, p): store.put({"emotion": "neutral", "s": s, "p": p}, session_id=s, person_id=p)
               for s in ("a", "b") for p in (0, 1)}
        blob_a1 = _blob(folder, 2)
        assert store.delete_person(1, session_id="a") == 1
        assert {(r.session_id, r.person_id) for r in store.records()} == {("a", "0"), ("b", "0"), ("b", "1")}
        assert store.delete_session("b") == 2
        assert [(r.session_id, r.person_id) for r in store.records()] == [("a", "0")]
        assert store.delete_person(0) == 1  # across sessions
        assert len(store) == 0
        with pytest.raises(RecordNotFoundError):
            store.get(ids[("a", 0)])
    for f in folder.iterdir():
        assert blob_a1[12:44] not in f.read_bytes()


def test_nothing_is_written_outside_the_given_folder(tmp_path, key, rng, monkeypatch, clock):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))  # sqlite would put temporary files there
    (tmp_path / "tmp").mkdir()
    folder = tmp_path / "store"
    audit = AuditLog(folder.parent / "audit.jsonl")
    with ResultStore(folder, key, _policy(retention=1), audit=audit, clock=clock) as store:
        ids = [store.put(_assessment_dict(rng), session_id=f"s{i % 3}", person_id=i % 2) for i in range(30)]
        for r in ids[:5]:
            store.get(r)
        store.delete_session("s1")
        store.delete_person(1)
        clock.advance(days=2)
        store.purge_expired()
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert written == ["audit.jsonl", f"store/{FILENAME}"]
    assert not any(cwd.iterdir()) and not any((tmp_path / "tmp").iterdir())


# ------------------------------------------------------------------ audit
def test_store_writes_an_audit_trail_without_payload(tmp_path, key):
    log = AuditLog(tmp_path / "audit.jsonl")
    with ResultStore(tmp_path / "s", key, _policy(), audit=log) as store:
        rid = store.put({"emotion": "anger", "secret": "PAYLOAD-XYZ"}, session_id="s1", person_id=2)
        store.get(rid)
        store.delete_session("s1")
        store.purge_expired()
    log.append("processed", session="s1", count=3, modalities=["face", "voice"], time=T0)
    actions = [e["action"] for e in log.entries()]
    assert actions == ["genesis", "opened", "stored", "read", "deleted", "purged", "processed"]
    raw = (tmp_path / "audit.jsonl").read_text()
    assert "PAYLOAD-XYZ" not in raw and "anger" not in raw
    assert log.entries()[2]["record"] == rid and log.entries()[4]["count"] == 1
    assert log.verify() is None and log.verify(head=log.head()) is None
    with pytest.raises(InputError):
        log.append("stored", emotion="anger")  # no payload fields
    with pytest.raises(InputError, match="action"):
        log.append("exported")


def _log_with(tmp_path, n=5) -> AuditLog:
    log = AuditLog(tmp_path / "audit.jsonl")
    for i in range(n):
        log.append("stored", session="s1", person=str(i), record=f"r{i}", time=T0 + timedelta(seconds=i))
    return log


def test_audit_chain_detects_modified_removed_and_inserted_lines(tmp_path):
    log = _log_with(tmp_path)
    path = tmp_path / "audit.jsonl"
    assert log.verify() is None
    original = path.read_bytes()
    lines = original.splitlines(keepends=True)

    path.write_bytes(b"".join(lines[:3] + [lines[3].replace(b'"person":"2"', b'"person":"9"')] + lines[4:]))
    broken = log.verify()
    assert broken is not None and broken.line == 5  # the next line's prev no longer matches (line 1: genesis)

    path.write_bytes(b"".join(lines[:2] + lines[3:]))  # removed line 3
    assert log.verify().line == 3

    path.write_bytes(b"".join(lines[:4] + [lines[2]] + lines[4:]))  # a copied line inserted
    assert log.verify().line == 5

    path.write_bytes(original)
    head = log.head()
    path.write_bytes(b"".join(lines[:-1]))  # last line removed: caught against the head kept elsewhere
    assert log.verify() is None and log.verify(head=head).line == 5

    path.write_bytes(b"".join(lines[:-1] + [lines[-1].replace(b'"person":"4"', b'"person":"7"')]))
    assert log.verify(head=head).line == 6

    path.write_bytes(original + b'{"action":"stored"')  # torn write
    assert log.verify().line == 7


def test_audit_appends_from_threads_keep_the_chain(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    log = AuditLog(tmp_path / "audit.jsonl")
    with ThreadPoolExecutor(4) as ex:
        list(ex.map(lambda i: log.append("processed", session=f"s{i}", count=1), range(40)))
    assert log.verify() is None and len(log.entries()) == 41  # and the genesis entry


def test_cli_audit_verify_exit_codes(tmp_path, capsys):
    from cxsense.cli import main

    _log_with(tmp_path)
    path = tmp_path / "audit.jsonl"
    assert main(["audit", "verify", str(path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["intact"] is True and out["entries"] == 6
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:2] + lines[3:]))
    assert main(["audit", "verify", str(path)]) == 5
    out = json.loads(capsys.readouterr().out)
    assert out["intact"] is False and out["broken"]["line"] == 3
    assert main(["audit", "verify", str(tmp_path / "missing.jsonl")]) == 2
    # the real process exit code
    r = subprocess.run([sys.executable, "-m", "cxsense", "audit", "verify", str(path)], capture_output=True,
                       cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert r.returncode == 5, r.stderr


def test_store_is_safe_from_several_threads(tmp_path, key):
    from concurrent.futures import ThreadPoolExecutor

    log = AuditLog(tmp_path / "audit.jsonl")
    with ResultStore(tmp_path / "s", key, _policy(), audit=log) as store:
        def work(i):
            rid = store.put({"emotion": "neutral", "i": i}, session_id=f"s{i % 4}", person_id=i % 3)
            return store.get(rid)["i"]

        with ThreadPoolExecutor(4) as ex:
            assert sorted(ex.map(work, range(60))) == list(range(60))
        assert len(store) == 60 and store.delete_session("s0") == 15
    assert log.verify() is None and len(log.entries()) == 123  # genesis, opened, 60 x (stored, read), deleted


def test_import_cxsense_loads_neither_governance_nor_cryptography():
    code = "import sys, cxsense; print(any(m.startswith(('cryptography', 'cxsense.governance')) for m in sys.modules))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                       env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert r.returncode == 0 and r.stdout.strip() == "False", r.stderr
