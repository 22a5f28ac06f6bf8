"""The sequential chain on LocalRuntime with moto *as installed* (a reference point).

LocalRuntime tunes moto while it runs (``adapter._moto``: undo-log transactions,
per-partition queries, ...). This module runs the chain with ``ADAPTER_TUNE_MOTO=0``
(moto as shipped, DynamoDB requests serialized), in a child process of the suite so
that nothing the suite's own runs warmed is shared, to show what stock moto costs. Run
by ``_suite``; prints one JSON document on stdout::

    python -m benchmarks._stock --sizes 5,100 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import time
from typing import Any


def _disable_tuning() -> str:
    """Turn the speed patches off for every LocalRuntime of this process."""
    os.environ["ADAPTER_TUNE_MOTO"] = "0"
    return "stock (ADAPTER_TUNE_MOTO=0: DynamoDB requests serialized, nothing else)"


def _moto_is_stock() -> bool:
    """Whether no speed patch is on (asked inside a LocalRuntime)."""
    try:
        from adapter._moto import PATCHES, active
    except ImportError:  # an adapter that never tuned moto
        return True
    speed = {patch.name for patch in PATCHES if patch.speed}
    return not speed & set(active())


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
    stock = True
    for n in sizes:
        for _ in range(args.repeat):
            with LocalRuntime():
                stock = stock and _moto_is_stock()
                _ = start(chain, args=[1]).return_value  # warm-up
                began = time.perf_counter()
                value = start(chain, args=[n]).return_value
                out["seconds"].setdefault(str(n), []).append(time.perf_counter() - began)
                if value != n:
                    raise AssertionError(f"a {n}-step chain returned {value!r}")
    out["median_s"] = {n: statistics.median(s) for n, s in out["seconds"].items()}
    out["moto_stock_verified"] = stock
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
