"""Benchmark what asking for a one-time code costs, for an address on file and for one that is not.

    .venvs/app/bin/python scripts/bench_code_timing.py                 # 200 samples each
    .venvs/app/bin/python scripts/bench_code_timing.py --samples 50 --out /tmp/codes.json

The request path as the action server runs it: `SqlCrmService.send_one_time_code(email)` on a migrated SQLite
file, with the development code sender (the outbox folder, as CODE_SENDER=log). Samples alternate between the
address on file and one that is not, so drift (disk, cache, other processes) falls on both alike. The service's
clock moves an hour between samples, so the per-address limit on codes never cuts a request short and every
request does its full work. A difference between the two medians that stays the same run after run tells an
observer whether an address is on file.

The figures (median, p95 and mean per address kind, in ms) are written to `--out` (JSON) and to stdout.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crm_adapter.notify import OutboxCodeSender  # noqa: E402
from crm_adapter.sql.db import make_engine, make_session_factory, upgrade  # noqa: E402
from crm_adapter.sql.service import SqlCrmService  # noqa: E402
from tests.factories import SqlArrange  # noqa: E402

ON_FILE = "anna.berg@example.com"
NOT_ON_FILE = "nobody.here@example.com"


class HourlyClock:
    """Moves an hour on each time it is read: every request is the first of its window."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 9, 0)

    def __call__(self) -> datetime:
        self.now += timedelta(hours=1)
        return self.now


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_ms": round(statistics.median(ordered), 3),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 3),
        "mean_ms": round(statistics.fmean(ordered), 3),
    }


def commit() -> str | None:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200, help="requests per address kind")
    parser.add_argument("--warmup", type=int, default=20, help="requests of each kind before timing")
    parser.add_argument("--label", default="", help="a note kept with the figures (e.g. before, after)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "code_timing.json")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="hearth-bench-codes-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'crm.db'}"
        upgrade(url)
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        anna = SqlArrange(sessions).add_customer(email=ON_FILE)
        SqlArrange(sessions).add_order(anna, "JH100001")
        service = SqlCrmService(sessions, OutboxCodeSender(Path(tmp) / "outbox"), secret="bench", clock=HourlyClock())
        timings: dict[str, list[float]] = {"on_file": [], "not_on_file": []}
        for n in range(args.warmup + args.samples):
            for kind, email in (("on_file", ON_FILE), ("not_on_file", NOT_ON_FILE)):
                started = time.perf_counter()
                service.send_one_time_code(email)
                elapsed = (time.perf_counter() - started) * 1000
                if n >= args.warmup:
                    timings[kind].append(elapsed)
        engine.dispose()

    figures = {kind: summary(samples) for kind, samples in timings.items()}
    report = {
        "benchmark": "one-time code request: address on file vs not on file",
        "label": args.label,
        "measured_at": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "commit": commit(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "database": "SQLite (migrated file), SqlCrmService, development code sender (outbox)",
        "samples_per_kind": args.samples,
        "warmup_per_kind": args.warmup,
        **figures,
        "median_difference_ms": round(figures["on_file"]["median_ms"] - figures["not_on_file"]["median_ms"], 3),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    for kind in timings:
        f = figures[kind]
        print(f"{kind:12} median {f['median_ms']:7.3f} ms   p95 {f['p95_ms']:7.3f} ms   mean {f['mean_ms']:7.3f} ms")
    print(f"median difference (on file - not): {report['median_difference_ms']:.3f} ms -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
