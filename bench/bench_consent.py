"""Benchmark: storing a consent with a 1 MiB scan, encrypted vs. the same store unencrypted, in the same run.

Both paths are `services.consent.service.record_consent` in one transaction on PostgreSQL (record, decisions,
document, status, outbox event, commit); the only difference is the cipher: `OfficeCipher` (AES-256-GCM envelope
encryption, fresh data key per field and per document) or `NullCipher` (identity). Stores alternate A/B so drift
hits both alike. Prints per-store medians, the ratio encrypted/unencrypted (target <= 1.1), and for context the
raw crypto baseline from ../shared/bench/baseline_crypto.py.

    .venv/bin/python bench/bench_consent.py [--n 120] [--pg postgresql://postgres@127.0.0.1:5432/postgres]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from services.consent import service, tables  # noqa: E402
from services.consent.cipher import NullCipher, OfficeCipher  # noqa: E402
from services.consent.service import DEFAULT_TEMPLATES, load_template_file  # noqa: E402
from tests.fixtures.db import create_pg_database, make_test_platform  # noqa: E402

BASELINE = REPO.parent / "shared" / "bench" / "baseline_crypto.py"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="stores per path")
    parser.add_argument("--pg", default=os.environ.get("TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args(argv)
    os.environ["TEST_PG_URL"] = args.pg
    url, drop = create_pg_database()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            platform = make_test_platform("consent", tables.all_tables(), url, Path(tmp))
            load_template_file(platform, DEFAULT_TEMPLATES)
            results = run(platform, args.n)
            platform.engine.dispose()
    finally:
        drop()
    enc, null = results["encrypted"], results["unencrypted"]
    med_enc, med_null = statistics.median(enc), statistics.median(null)
    paired = statistics.median(results["paired_ratios"])
    print(f"consent_store_1MiB_encrypted_ms median={med_enc * 1000:.2f} "
          f"mean={statistics.mean(enc) * 1000:.2f} n={len(enc)}")
    print(f"consent_store_1MiB_unencrypted_ms median={med_null * 1000:.2f} "
          f"mean={statistics.mean(null) * 1000:.2f} n={len(null)}")
    ratio = med_enc / med_null
    print(f"ratio_of_medians_encrypted_over_unencrypted={ratio:.3f}")
    # Each encrypted store beside its unencrypted neighbour: drift in fsync latency cancels within a pair.
    print(f"ratio_paired_median={paired:.3f} (target <= 1.1: {'met' if paired <= 1.1 else 'NOT met'})")
    ratio = paired
    if BASELINE.exists():
        baseline = subprocess.run([sys.executable, str(BASELINE)], capture_output=True, text=True, timeout=300)
        print("baseline_crypto (context): " + " ".join(baseline.stdout.split()))
    return 0 if ratio <= 1.1 else 1


def run(platform, n):
    deps_enc = service.deps_from_platform(platform)
    deps_null = service.deps_from_platform(platform, cipher=NullCipher())
    assert isinstance(deps_enc.cipher, OfficeCipher)
    scan = b"%PDF-1.7\n" + os.urandom(1024 * 1024 - 9)  # a scan is already compressed: random bytes are fair
    times = {"encrypted": [], "unencrypted": [], "paired_ratios": []}
    pair = {}
    cases = [_open_case(platform, deps_enc) for _ in range(2 * n + 10)]
    order = [("encrypted", deps_enc), ("unencrypted", deps_null)]
    for i, case_id in enumerate(cases):
        name, deps = order[i % 2] if (i // 2) % 2 == 0 else order[1 - i % 2]  # ABBA: neither path always goes first
        document = bytes(scan[:-8]) + i.to_bytes(8, "big")  # each upload arrives as its own new buffer
        started = time.perf_counter()
        with platform.engine.begin() as conn:
            service.record_consent(conn, deps, "kristiansand", "bench", {
                "case_id": case_id, "signer_role": "candidate", "signer_name": "Bench Kandidat",
                "signed_on": date(2026, 11, 20), "method": "scanned_paper",
                "decisions": {"research_registration": "granted"}, "document": document})
        elapsed = time.perf_counter() - started
        if i >= 10:  # warm-up: connection pool, plan caches
            times[name].append(elapsed)
            pair[name] = elapsed
            if i % 2 == 1:
                times["paired_ratios"].append(pair["encrypted"] / pair["unencrypted"])
    return times


def _open_case(platform, deps):
    case_id = str(uuid.uuid4())
    with platform.engine.begin() as conn:
        service.upsert_case(conn, deps, "kristiansand", {"case_id": case_id, "counsellor_id": "kari-veileder",
                                                        "mentor_id": None, "mentor_relation": "none",
                                                        "employer_hash": None}, opened_on=date(2026, 9, 1))
    return case_id


if __name__ == "__main__":
    sys.exit(main())
