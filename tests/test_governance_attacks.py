"""The store and the audit log attacked as an outsider with the files would (issue 29): each test is one attack."""

import hashlib
import json
import multiprocessing
import os
import sqlite3
import time
from datetime import datetime, timedelta, timezone

import pytest

from cxsense import InputError, PolicyError
from cxsense.governance import (AuditLog, ConsentRecord, ExpiredError, IntegrityError, ResultStore, UsagePolicy,
                                WrongKeyError)
from cxsense.governance.store import FILENAME

UTC = timezone.utc


def _policy(**kw):
    base = dict(purpose="test reactions to a film trailer", context="media_testing",
                contact="Studio X, privacy@example.org", retention=timedelta(days=30))
    base.update(kw)
    return UsagePolicy(**base)


@pytest.fixture
def key():
    return ResultStore.new_key()


def _sql(folder, *statements):
    db = sqlite3.connect(folder / FILENAME)
    out = [db.execute(s).fetchall() for s in statements]
    db.commit()
    db.close()
    return out


def _folder_bytes(folder, skip=()):
    return {f.name: f.read_bytes() for f in folder.iterdir() if f.is_file() and f.name not in skip}


# ------------------------------------------------------------------ what the file shows without the key
def test_the_file_holds_no_ids_and_deletion_by_id_still_works(tmp_path, key):
    folder = tmp_path / "s"
    with ResultStore(folder, key, _policy()) as store:
        rid = store.put({"emotion": "fear"}, session_id="sess-SECRET-17", person_id="person-SECRET-3")
        other = store.put({"emotion": "joy"}, session_id="sess-SECRET-17", person_id=0)
    raw = b"".join(_folder_bytes(folder).values())
    for s in (b"sess-SECRET-17", b"person-SECRET-3", rid.encode(), other.encode(), b"result"):
        assert s not in raw, s
    with ResultStore(folder, key, _policy()) as store:
        assert [r.session_id for r in store.records(person_id="person-SECRET-3")] == ["sess-SECRET-17"]
        assert store.delete(rid) == 1 and store.delete_person(0, session_id="sess-SECRET-17") == 1 and len(store) == 0


# ------------------------------------------------------------------ rows deleted, copies restored, meta removed
def test_a_row_deleted_in_the_file_is_noticed(tmp_path, key):
    folder = tmp_path / "s"
    with ResultStore(folder, key, _policy()) as store:
        for i in range(3):
            store.put({"i": i}, session_id="s1", person_id=i)
    _sql(folder, "DELETE FROM records WHERE rowid = (SELECT MIN(rowid) FROM records)")
    with pytest.raises(IntegrityError, match="2 records"):
        ResultStore(folder, key, _policy())


def test_an_old_copy_restored_after_delete_person_is_refused(tmp_path, key):
    folder, log = tmp_path / "s", AuditLog(tmp_path / "audit.jsonl")
    with ResultStore(folder, key, _policy(), audit=log) as store:
        for p in (0, 1, 1):
            store.put({"emotion": "neutral"}, session_id="s1", person_id=p)
    backup = _folder_bytes(folder)
    with ResultStore(folder, key, _policy(), audit=log) as store:
        assert store.delete_person(1) == 2
    for name, data in backup.items():
        (folder / name).write_bytes(data)
    with pytest.raises(IntegrityError, match="older copy"):
        ResultStore(folder, key, _policy(), audit=log)
    # the owner may accept the rows as they are; that is recorded
    with ResultStore(folder, key, _policy(), audit=log, reseal=True) as store:
        assert len(store) == 3
    assert log.entries()[-1]["action"] == "resealed" and log.verify() is None


@pytest.mark.parametrize("attack", ["DELETE FROM meta", "DELETE FROM meta WHERE name = 'key_check'", "DROP TABLE meta"])
def test_a_store_without_its_key_check_is_refused_never_reinitialised(tmp_path, key, attack):
    folder = tmp_path / "s"
    with ResultStore(folder, key, _policy()) as store:
        rid = store.put({"emotion": "fear"}, session_id="s1")
    _sql(folder, attack)
    for k in (ResultStore.new_key(), key):
        with pytest.raises(IntegrityError):
            ResultStore(folder, k, _policy())
    assert _sql(folder, "SELECT COUNT(*) FROM records")[0] == [(1,)]  # nothing was rewritten
    assert rid


def test_an_sqlite_file_of_something_else_is_not_taken_over(tmp_path, key):
    folder = tmp_path / "s"
    folder.mkdir()
    _sql(folder, "CREATE TABLE notes (x TEXT)", "INSERT INTO notes VALUES ('mine')")
    with pytest.raises(IntegrityError, match="not a cxsense result store"):
        ResultStore(folder, key, _policy())
    assert _sql(folder, "SELECT x FROM notes")[0] == [("mine",)]


# ------------------------------------------------------------------ another policy
def test_reopening_under_another_policy_is_refused_without_an_audit_log(tmp_path, key):
    folder = tmp_path / "s"
    with ResultStore(folder, key, _policy()) as store:
        store.put({"a": 1}, session_id="s1")
    with pytest.raises(PolicyError, match="retention"):
        ResultStore(folder, key, _policy(retention=3650))
    with pytest.raises(PolicyError, match="context"):
        ResultStore(folder, key, _policy(context="market_research"))
    ResultStore(folder, key, _policy(consents=[ConsentRecord("p-1", datetime.now(UTC), "x")])).close()  # same rules


def test_a_policy_change_is_logged_and_a_shorter_retention_applies_to_stored_records(tmp_path, key):
    folder, log = tmp_path / "s", AuditLog(tmp_path / "audit.jsonl")
    with ResultStore(folder, key, _policy(), audit=log) as store:
        store.put({"a": 1}, session_id="s1")
    with ResultStore(folder, key, _policy(retention=1), audit=log) as store:
        (info,) = store.records()
        assert info.expires - info.created == timedelta(days=1)
    e = log.entries()[-1]
    assert e["action"] == "policy_changed"
    assert e["previous"]["retention_seconds"] == 30 * 86400 and e["policy"]["retention_seconds"] == 86400
    with ResultStore(folder, key, _policy(retention=60), audit=log) as store:  # longer: existing records keep theirs
        assert store.records()[0].expires - store.records()[0].created == timedelta(days=1)
    assert log.verify() is None


# ------------------------------------------------------------------ now= is no back door
def test_now_cannot_revive_or_prolong_a_record(tmp_path, key):
    with ResultStore(tmp_path / "s", key, _policy(retention=timedelta(seconds=1))) as store:
        with pytest.raises(InputError, match="now"):
            store.put({"a": 1}, session_id="s1", now=datetime(2999, 1, 1, tzinfo=UTC))
        rid = store.put({"a": 1}, session_id="s1")
        time.sleep(1.2)
        now = datetime.now(UTC)
        with pytest.raises((ExpiredError, InputError)):
            store.get(rid, now=now - timedelta(days=365))
        with pytest.raises(ExpiredError):
            store.get(rid, now=now - timedelta(seconds=30))  # within the tolerance: the clock still counts
        assert store.records(now=now - timedelta(seconds=30)) == []
        assert store.purge_expired(now=now - timedelta(seconds=30)) == 1


def test_a_manual_clock_moves_time_for_tests(tmp_path, key):
    from cxsense.governance import ManualClock

    clock = ManualClock(datetime(2026, 3, 1, tzinfo=UTC))
    with ResultStore(tmp_path / "s", key, _policy(retention=1), clock=clock) as store:
        rid = store.put({"a": 1}, session_id="s1")
        clock.advance(hours=23)
        assert store.get(rid) == {"a": 1}
        clock.advance(hours=1)
        with pytest.raises(ExpiredError):
            store.get(rid)
        with pytest.raises(InputError, match="now"):
            store.get(rid, now=datetime.now(UTC))  # months off the store's clock


# ------------------------------------------------------------------ no copy of deleted data in another file
def test_a_deletion_leaves_no_copy_of_the_record_in_any_other_file(tmp_path, key):
    folder = tmp_path / "s"
    store = ResultStore(folder, key, _policy())
    for i in range(20):  # record 7 spans overflow pages
        store.put({"i": i, "pad": "x" * (10_000 if i == 7 else 50)}, session_id="s1", person_id=i)
    rows = dict(_sql(folder, "SELECT id, blob FROM records")[0])
    target = next(k for k, v in rows.items() if len(v) > 5000)
    fragments = (target.encode(), rows[target][12:44], rows[target][5000:5032], rows[target][-40:-16])
    hits, started = [], []

    def watch(sql):  # from the deletion's transaction on, no journal or WAL may hold the purged bytes
        started.extend([1] if sql.startswith("BEGIN") else [])
        for name, data in _folder_bytes(folder, skip=(FILENAME,)).items() if started else ():
            hits.extend((name, sql[:40]) for frag in fragments if frag in data)

    store._db.set_trace_callback(watch)
    assert store.delete_person(7, session_id="s1") == 1
    store._db.set_trace_callback(None)
    store.close()
    assert started and hits == [], sorted(set(hits))
    for name, data in _folder_bytes(folder).items():  # and none after closing, the main file included
        assert not any(frag in data for frag in fragments), name


# ------------------------------------------------------------------ several processes create one store
def _create(folder, key, barrier, results):
    try:
        barrier.wait(30)
        ResultStore(folder, key, _policy()).close()
        results.put("ok")
    except BaseException as e:  # report, do not hang the test
        results.put(f"{type(e).__name__}: {e}")


def test_four_processes_creating_one_store_at_once_all_succeed(tmp_path, key):
    ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    for trial in range(25):
        folder, barrier, results = tmp_path / f"s{trial}", ctx.Barrier(4), ctx.Queue()
        procs = [ctx.Process(target=_create, args=(folder, key, barrier, results)) for _ in range(4)]
        for p in procs:
            p.start()
        try:
            got = [results.get(timeout=60) for _ in procs]
        finally:
            for p in procs:
                p.join(10)
                if p.is_alive():  # bounded: never leave a child behind
                    p.terminate()
        assert got == ["ok"] * 4, got
        with ResultStore(folder, key, _policy()) as store:
            assert len(store) == 0


# ------------------------------------------------------------------ an expiry that is not a time
def test_expires_set_to_text_is_an_integrity_error(tmp_path, key):
    folder = tmp_path / "s"
    with ResultStore(folder, key, _policy()) as store:
        rid = store.put({"a": 1}, session_id="s1")
        _sql(folder, "UPDATE records SET expires = 'never'")
        for call in (lambda: store.get(rid), store.records, store.purge_expired):
            with pytest.raises(IntegrityError):
                call()
    with pytest.raises(IntegrityError):
        ResultStore(folder, key, _policy())
    assert not isinstance(IntegrityError("x"), TypeError)
    assert WrongKeyError


# ------------------------------------------------------------------ the audit log: genesis, anchors, forged lines
def _log(tmp_path, n=6, **kw) -> AuditLog:
    log = AuditLog(tmp_path / "audit.jsonl", **kw)
    for i in range(n):
        log.append("stored", session="s1", person=str(i), record=f"r{i}")
    return log


def _forged_line(path, **fields) -> bytes:
    """A well-formed line (right prev, seq and form) written by someone without any key."""
    last = path.read_bytes().splitlines()[-1]
    e = dict({"action": "deleted", "count": 0, "time": "2026-12-01T00:00:00Z"}, **fields,
             prev=hashlib.sha256(last).hexdigest(), seq=json.loads(last)["seq"] + 1)
    return json.dumps(e, sort_keys=True, separators=(",", ":")).encode() + b"\n"


def test_a_log_starts_with_a_genesis_entry_and_an_empty_file_is_broken(tmp_path):
    log = _log(tmp_path, n=1)
    first = log.entries()[0]
    assert first["action"] == "genesis" and first["seq"] == 0 and len(first["log"]) == 32
    assert log.verify() is None
    (tmp_path / "audit.jsonl").write_bytes(b"")  # truncated to 0 bytes
    broken = log.verify()
    assert broken is not None and broken.line == 1 and "genesis" in broken.reason
    with pytest.raises(IntegrityError, match="genesis"):
        log.append("processed", count=1)  # the chain is not restarted silently
    (tmp_path / "t").mkdir()
    torn = _log(tmp_path / "t", n=2)
    with open(torn.path, "ab") as f:
        f.write(b'{"action":"sto')  # a write cut short
    with pytest.raises(IntegrityError, match="incomplete"):
        torn.append("processed", count=1)
    (tmp_path / "x").mkdir()
    lines = _log(tmp_path / "x").path.read_bytes().splitlines(keepends=True)
    (tmp_path / "x" / "audit.jsonl").write_bytes(b"".join(lines[1:]))  # the genesis line cut off
    assert AuditLog(tmp_path / "x" / "audit.jsonl").verify().line == 1


def test_an_anchor_catches_tail_truncation_and_edits_and_accepts_later_appends(tmp_path):
    log = _log(tmp_path)
    path = tmp_path / "audit.jsonl"
    anchor, original = log.head(), path.read_bytes()
    lines = original.splitlines(keepends=True)
    for cut in (1, 4):
        path.write_bytes(b"".join(lines[:-cut]))
        assert log.verify() is None  # a shorter chain is a valid chain: only the anchor tells
        assert log.verify(head=anchor) is not None
    path.write_bytes(b"".join(lines[:-1] + [lines[-1].replace(b'"person":"5"', b'"person":"7"')]))
    assert log.verify(head=anchor) is not None  # the last line edited (in canonical form)
    path.write_bytes(original)
    log.append("read", session="s1", record="r1")  # a legitimate append after the anchor
    log.append("processed", count=2)
    assert log.verify(head=anchor) is None and log.verify(head=log.head()) is None
    old_anchor = hashlib.sha256(lines[2].rstrip(b"\n")).hexdigest()
    assert log.verify(head=old_anchor) is None  # an anchor anywhere in the chain
    assert log.verify(head="ab" * 32) is not None


def test_a_keyed_log_refuses_forged_lines(tmp_path, key):
    log = _log(tmp_path, key=key)
    path = tmp_path / "audit.jsonl"
    assert log.verify() is None and all("mac" in e for e in log.entries())
    anchor = log.head()
    with open(path, "ab") as f:
        f.write(_forged_line(path, mac="ab" * 32))  # with a made-up HMAC
    assert AuditLog(path).verify(head=anchor) is None  # without the key a well-formed append cannot be told
    broken = log.verify(head=anchor)
    assert broken is not None and broken.line == 8 and "HMAC" in broken.reason
    with pytest.raises(InputError, match="key"):
        AuditLog(path).append("processed", count=1)  # no unkeyed line into a keyed log
    assert AuditLog(tmp_path / "plain.jsonl").verify(key=key).line == 1  # a key for an unkeyed log


def test_the_store_refuses_a_truncated_log_and_a_line_forged_in_its_name(tmp_path, key):
    folder, path = tmp_path / "s", tmp_path / "audit.jsonl"
    log = AuditLog(path)
    with ResultStore(folder, key, _policy(), audit=log) as store:
        rid = store.put({"a": 1}, session_id="s1")
        store.get(rid)
        store_id = store.verify()["store"]
    original = path.read_bytes()
    lines = original.splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-2]))  # the "stored" and "read" lines cut off
    assert log.verify() is None
    with pytest.raises(IntegrityError, match="lacks the entry"):
        ResultStore(folder, key, _policy(), audit=log)
    path.write_bytes(original)
    with open(path, "ab") as f:
        f.write(_forged_line(path, store=store_id, generation=3, live=0))
    assert log.verify() is None
    with pytest.raises(IntegrityError, match="later change to this store"):
        ResultStore(folder, key, _policy(), audit=log)


def test_cli_checks_the_log_against_the_store(tmp_path, key, capsys):
    from cxsense.cli import main

    folder, path = tmp_path / "s", tmp_path / "audit.jsonl"
    log = AuditLog(path)
    with ResultStore(folder, key, _policy(), audit=log) as store:
        for p in (0, 1, 1):
            store.put({"a": 1}, session_id="s1", person_id=p)
    backup = _folder_bytes(folder)
    with ResultStore(folder, key, _policy(), audit=log) as store:
        store.delete_person(1)
    assert main(["audit", "verify", str(path), "--store", str(folder)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["intact"] and out["store"]["count"] == out["store"]["rows"] == 1 and out["store"]["problem"] is None
    assert sorted(os.listdir(folder)) == [FILENAME]  # the check left no -wal or -shm behind
    for name, data in backup.items():  # an old copy put back
        (folder / name).write_bytes(data)
    assert main(["audit", "verify", str(path), "--store", str(folder)]) == 5
    out = json.loads(capsys.readouterr().out)
    assert not out["intact"] and "older copy" in out["store"]["problem"]
    _sql(folder, "DELETE FROM records WHERE rowid = 1")  # and a row deleted by hand
    (tmp_path / "k").write_text(key.hex())
    assert main(["audit", "verify", str(path), "--store", str(folder), "--key-file", str(tmp_path / "k")]) == 5
    out = json.loads(capsys.readouterr().out)
    assert "broken" not in out and "2 records, its state says 3" in out["store"]["problem"]


def test_a_store_writes_to_a_keyed_log_and_the_cli_checks_its_macs(tmp_path, key, capsys):
    from cxsense.cli import main

    folder, path = tmp_path / "s", tmp_path / "audit.jsonl"
    with ResultStore(folder, key, _policy(), audit=AuditLog(path, key=key)) as store:
        store.delete(store.put({"a": 1}, session_id="s1"))
    (tmp_path / "k").write_bytes(key)
    assert main(["audit", "verify", str(path), "--store", str(folder), "--key-file", str(tmp_path / "k")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["macs_checked"] and out["store"]["authenticated"] and out["store"]["generation"] == 3
    with open(path, "ab") as f:
        f.write(_forged_line(path, mac="ab" * 32))
    assert main(["audit", "verify", str(path), "--key-file", str(tmp_path / "k")]) == 5
    assert main(["audit", "verify", str(path)]) == 0  # without the key the forgery is well formed


# ------------------------------------------------------------------ the policy
@pytest.mark.parametrize("context", ["office", "employees", "school", "hiring", "job interview", "Human Resources"])
def test_other_names_of_banned_contexts_are_refused_naming_the_article(context):
    with pytest.raises(PolicyError, match=r"Art\. 5\(1\)\(f\)") as e:
        _policy(context=context)
    assert isinstance(e.value, InputError) and e.value.parameter == "context"


@pytest.mark.parametrize("purpose", ["screen job applicants", "rate students' engagement during lectures",
                                     "monitor employees in the call centre", "HIRING decisions"])
def test_a_purpose_at_work_or_in_education_is_refused_under_any_context(purpose):
    with pytest.raises(PolicyError, match=r"Art\. 5\(1\)\(f\)"):
        _policy(context="market_research", purpose=purpose)
    p = _policy(context="market_research", purpose=purpose, exemption="safety")  # only a declared exemption
    assert p.exempted


@pytest.mark.parametrize("purpose", ["test reactions to a film trailer", "predict box office success of a film",
                                     "compare two adverts for a work of art", "user interviews about an app"])
def test_ordinary_purposes_pass_the_screen(purpose):
    assert not _policy(context="market_research", purpose=purpose).exempted


def test_consent_subjects_must_be_opaque_ids():
    now = datetime.now(UTC)
    for name in ("Alice", "max.mustermann:1980-01-01", "jane.doe", "alice1", "Bob Smith", "1980-01-01"):
        with pytest.raises(InputError, match="subject"):
            ConsentRecord(name, now, "trailer test")
    for ok in ("p-0042", "p1", "P17", "participant_0042", "0042", "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
               ConsentRecord.new_subject()):
        assert ConsentRecord(ok, now, "trailer test").subject == ok
