"""``python -m benchmarks``: run the benchmark suite, print the tables, write JSON.

python -m benchmarks                  # full run (~10 min on 2 cores)
python -m benchmarks --quick          # CI smoke run (< 60 s)
python -m benchmarks --profile        # also write benchmarks/profile.txt
python -m benchmarks --only calls,replay --out /tmp/bench.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="small sizes for CI (< 60 s)")
    parser.add_argument(
        "--out", type=Path, default=HERE / "results.json", help="where to write the JSON"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also profile the sequential chain with pyinstrument (benchmarks/profile.txt)",
    )
    parser.add_argument(
        "--profile-out", type=Path, default=HERE / "profile.txt", help="profile text file"
    )
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated sections: calls,replay,throughput,fanout,parallel,peers,profile",
    )
    parser.add_argument("--plain", action="store_true", help="plain-text tables, no rich")
    args = parser.parse_args(argv)

    # Before the runtime is imported: its powertools logger reads the level at import.
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 5000))

    from . import _report, _suite

    _suite.quiet_logs()
    if args.only:
        sections = [s.strip() for s in args.only.split(",") if s.strip()]
        unknown = [s for s in sections if s not in _suite.SECTIONS]
        if unknown:
            parser.error(f"unknown section(s) {unknown}; choose from {_suite.SECTIONS}")
    else:
        sections = [s for s in _suite.SECTIONS if s != "profile" or args.profile]
    if args.profile and "profile" not in sections:
        sections.append("profile")

    began = time.perf_counter()

    def progress(message: str) -> None:
        print(f"[{time.perf_counter() - began:6.1f}s] {message}", file=sys.stderr, flush=True)

    suite = _suite.Suite(
        _suite.QUICK if args.quick else _suite.FULL,
        quick=args.quick,
        profile_path=args.profile_out,
    )
    results = suite.run(sections, progress)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    _report.show(results, plain=args.plain)
    print(
        f"\nJSON: {args.out}" + (f"   profile: {args.profile_out}" if "profile" in sections else "")
    )
    if suite.errors:
        print(
            f"{len(suite.errors)} error(s) recorded in the JSON under 'errors': "
            f"{', '.join(suite.errors)}",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
