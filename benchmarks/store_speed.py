"""Write and read throughput of the result store, and the cost that encryption adds.

    python3 -m benchmarks.store_speed [--records 500] [--repeats 5] [--keep-embeddings]

The payload is a real Assessment: ``cxsense.assess`` on the shipped example portrait (face only), as
``to_dict()``. Each repeat writes ``--records`` records into a fresh store in a temporary folder, then reads
them all back; the medians over repeats are printed, in records per second. "plain" is the same store with
the AES-GCM step replaced by the identity (same SQLite file, same JSON, same fsyncs), so the difference is
the cost of encryption. No audit log is attached. Timings depend on the disk (each write is one SQLite
transaction, synchronous=FULL).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _plain_store_class():
    from cxsense.governance import ResultStore

    class PlainStore(ResultStore):
        """Benchmark only: the same store without encryption (never use this for data)."""

        def _seal(self, aad, plaintext):
            return bytes(12) + plaintext + bytes(16)

        def _open(self, aad, blob):
            return blob[12:-16]

    return PlainStore


def run(n: int, repeats: int, keep_embeddings: bool) -> dict:
    import torch

    torch.set_num_threads(1)
    import cxsense
    from cxsense.governance import ResultStore, UsagePolicy

    payload = cxsense.assess(face=str(REPO / "examples" / "astronaut.jpg")).to_dict()
    policy = UsagePolicy(purpose="benchmark", context="scientific_research", contact="bench@example.org",
                         retention=timedelta(days=1))
    key = ResultStore.new_key()
    out = {}
    for name, cls in (("aes-gcm", ResultStore), ("plain", _plain_store_class())):
        w, r = [], []
        for _ in range(repeats):
            with tempfile.TemporaryDirectory() as tmp, cls(Path(tmp) / "s", key, policy,
                                                            keep_embeddings=keep_embeddings) as store:
                t = time.perf_counter()
                ids = [store.put(payload, session_id="bench", person_id=i % 4) for i in range(n)]
                w.append(n / (time.perf_counter() - t))
                t = time.perf_counter()
                for rid in ids:
                    store.get(rid)
                r.append(n / (time.perf_counter() - t))
                size = (Path(tmp) / "s" / "results.sqlite3").stat().st_size
        out[name] = {"write": statistics.median(w), "read": statistics.median(r), "bytes_per_record": size / n}
    # the AES-GCM step alone, per record
    import json
    import secrets

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    data = json.dumps(payload if keep_embeddings else _strip(payload)).encode()
    aead = AESGCM(key)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(n):
            nonce = secrets.token_bytes(12)
            aead.decrypt(nonce, aead.encrypt(nonce, data, b"aad"), b"aad")
        times.append((time.perf_counter() - t) / n)
    out["crypto_us_per_record"] = statistics.median(times) * 1e6
    out["json_bytes"] = len(data)
    return out


def _strip(x):
    if isinstance(x, dict):
        return {k: _strip(v) for k, v in x.items() if k != "embedding"}
    if isinstance(x, list):
        return [_strip(v) for v in x]
    return x


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--keep-embeddings", action="store_true")
    a = ap.parse_args(argv)
    from benchmarks.metrics import machine

    res = run(a.records, a.repeats, a.keep_embeddings)
    print("== result store throughput ==")
    print(f"machine: {machine()}")
    print(f"payload: Assessment.to_dict() of examples/astronaut.jpg (face), {res['json_bytes']} bytes of JSON "
          f"stored ({'with' if a.keep_embeddings else 'without'} embeddings); {a.records} records x {a.repeats} "
          "repeats, medians; temporary folder on the local disk")
    for name in ("aes-gcm", "plain"):
        r = res[name]
        print(f"{name:8s} write {r['write']:9.0f} records/s   read {r['read']:9.0f} records/s   "
              f"file {r['bytes_per_record']:.0f} bytes/record")
    e, p = res["aes-gcm"], res["plain"]
    print(f"encryption cost: write {1e6 * (1 / e['write'] - 1 / p['write']):+.1f} us/record "
          f"({100 * (p['write'] / e['write'] - 1):+.1f}%), read {1e6 * (1 / e['read'] - 1 / p['read']):+.1f} us/record "
          f"({100 * (p['read'] / e['read'] - 1):+.1f}%); AES-GCM encrypt+decrypt alone "
          f"{res['crypto_us_per_record']:.1f} us/record")


if __name__ == "__main__":
    main()
