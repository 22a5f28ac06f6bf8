"""The sequential chain on LocalRuntime with moto *as installed* (a reference point).

LocalRuntime tunes moto for the whole process (``adapter._moto.tune_moto``: an undo log
instead of a whole-table deep copy per transaction, per-partition queries) and the
change cannot be undone in that process. This module runs in a child process of the
suite and turns the tuning off before any LocalRuntime starts, to show what stock moto
costs. Run by ``_suite``; prints one JSON document on stdout::

    python -m benchmarks._stock --sizes 5,100 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from typing import Any


def _disable_tuning() -> str:
    """Make ``tune_moto`` and ``answer_in_process`` no-ops; say whether moto stays stock
    (botocore then reaches moto over its HTTP layer, as moto's own stubber expects)."""
    try:
        import adapter._moto as tuning
    except ImportError:
        return "stock (this adapter does not tune moto)"
    tuning.tune_moto = lambda: None
    import adapter.testing as testing

    if hasattr(testing, "tune_moto"):
        testing.tune_moto = lambda: None
    if hasattr(testing, "answer_in_process"):
        testing.answer_in_process = lambda client: None
    return "stock (adapter._moto.tune_moto and answer_in_process disabled)"


def _moto_is_stock() -> bool:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    return all(
        getattr(f, "__module__", "").startswith("moto.")
        for f in (DynamoDBBackend.transact_write_items, Table.query, Table.all_items)
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="5,100")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("adapter").setLevel(logging.ERROR)
    sizes = [int(s) for s in args.sizes.split(",")]

    label = _disable_tuning()
    from adapter import start
    from adapter.testing import LocalRuntime

    from .workflows import chain

    out: dict[str, Any] = {"moto": label, "seconds": {}}
    for n in sizes:
        for _ in range(args.repeat):
            with LocalRuntime():
                _ = start(chain, args=[1]).return_value  # warm-up
                began = time.perf_counter()
                value = start(chain, args=[n]).return_value
                out["seconds"].setdefault(str(n), []).append(time.perf_counter() - began)
                if value != n:
                    raise AssertionError(f"a {n}-step chain returned {value!r}")
    out["median_s"] = {n: statistics.median(s) for n, s in out["seconds"].items()}
    out["moto_stock_verified"] = _moto_is_stock()
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
