"""The benchmark suite: what is measured, at which sizes, and how the results are kept.

Sections (``--only`` takes their names):

* ``calls``      (a) AWS API calls per step of a sequential chain, by role and operation
* ``replay``     (b) DynamoDB items and bytes read for chains of growing length
* ``throughput`` (c) sequential steps/s: LocalRuntime, moto server over HTTP, and (in a
  child process) LocalRuntime on moto as installed, without the adapter's moto tuning
* ``fanout``     (d) one step starts N child runs, one step polls them (samples/fanout.py)
* ``parallel``   (e) ``asyncio.gather`` of N steps in one workflow
* ``peers``      (f) the same chain on the AWS durable-functions runner and DBOS (SQLite)
* ``profile``    (g) pyinstrument profile of the 100-step chain (only with ``--profile``)
"""

from __future__ import annotations

import contextlib
import json
import logging
import operator
import os
import platform
import statistics
import subprocess
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from ._counting import CallCounter, Snapshot

SECTIONS = ("calls", "replay", "throughput", "fanout", "parallel", "peers", "profile")
ROOT = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Sizes:
    calls_chain: int
    replay_chains: tuple[int, ...]
    cold_chains: tuple[int, ...]
    throughput_chain: int
    small_chain: int
    repeat: int
    peer_repeat: int  # interleaved rounds against the peers (cheap runs: more of them)
    fanout: int
    parallel: int
    profile_chain: int


FULL = Sizes(
    calls_chain=50,
    replay_chains=(50, 200, 800),
    cold_chains=(50, 200),
    throughput_chain=100,
    small_chain=5,
    repeat=3,
    peer_repeat=7,
    fanout=1000,
    parallel=200,
    profile_chain=100,
)
QUICK = Sizes(
    calls_chain=20,
    replay_chains=(10, 25, 100),
    cold_chains=(8, 32),
    throughput_chain=30,
    small_chain=5,
    repeat=1,
    peer_repeat=1,
    fanout=100,
    parallel=50,
    profile_chain=30,
)


# --- logging: count the runtime's warnings instead of printing them -------------------------


class _CountingHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[f"{record.levelname}: {record.msg}"] += 1


_log_counter = _CountingHandler()


def quiet_logs() -> None:
    """Warnings of the runtime (expected ones: the fan-out's failing children) are
    counted per section, not printed."""
    for name in ("adapter", "adapter-workflows", "dbos", "aws_durable_execution_sdk_python"):
        log = logging.getLogger(name)
        log.setLevel(logging.WARNING)
        log.addHandler(_log_counter)
        log.propagate = False
    # moto's server logs every request through werkzeug.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)


@contextlib.contextmanager
def count_logs(into: dict[str, Any]) -> Iterator[None]:
    before = Counter(_log_counter.counts)
    try:
        yield
    finally:
        new = _log_counter.counts - before
        if new:
            into["log_warnings"] = dict(new.most_common(8))


# --- moto modes and runtimes ----------------------------------------------------------------


@contextlib.contextmanager
def cold_containers() -> Iterator[None]:
    """Every message handled as if by a fresh Lambda container: the runtime's in-process
    log cache (``Runtime.journal``, a warm container's memory) is emptied before each
    ``Runtime.process``. Worst case for reads; LocalRuntime is otherwise one warm
    container for everything."""
    from adapter.runtime import Runtime

    original = Runtime.process

    def process(self: Any, *args: Any, **kwargs: Any) -> Any:
        self.journal.clear()
        return original(self, *args, **kwargs)

    Runtime.process = process  # type: ignore[method-assign]
    try:
        yield
    finally:
        Runtime.process = original  # type: ignore[method-assign]


def moto_label() -> str:
    """How moto runs here: tuned by ``adapter._moto`` while each LocalRuntime runs,
    unless ``ADAPTER_TUNE_MOTO=0``."""
    try:
        from adapter._moto import tuning_enabled
    except ImportError:
        return "stock"
    if not tuning_enabled():
        return "stock (ADAPTER_TUNE_MOTO=0: DynamoDB requests serialized, nothing else)"
    return (
        "tuned by adapter._moto while each LocalRuntime runs (atomic undo-log "
        "transactions, per-partition queries, plain items read and answered as they are, "
        "items sized once, expressions parsed once, random strings drawn at once, a "
        "queue's retention read alone, sends that count no messages, answer keys found "
        "once, requests routed once per URL and built from a template, names converted "
        "once); LocalRuntime's clients answered in process, without botocore's HTTP layer"
    )


def moto_tuning() -> contextlib.AbstractContextManager[None]:
    """What LocalRuntime and ``adapter dev`` do to moto, for the moto server runs too."""
    try:
        from adapter._moto import tuned
    except ImportError:
        return contextlib.nullcontext()
    return tuned()


@dataclass
class Measurement:
    seconds: list[float]
    counts: Snapshot
    result: Any

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def measure_local(
    counter: CallCounter,
    workflow: Any,
    args: list[Any],
    *,
    repeat: int = 1,
    check: Callable[[Any], bool] | None = None,
    cold: bool = False,
) -> Measurement:
    """Start-to-result time on a fresh LocalRuntime per repetition (tables start empty:
    moto's costs grow with the table), after a one-step warm-up run in it."""
    from adapter import start
    from adapter.testing import LocalRuntime

    from .workflows import chain

    seconds: list[float] = []
    first: Snapshot | None = None
    result: Any = None
    for _ in range(repeat):
        with LocalRuntime():
            _ = start(chain, args=[1]).return_value  # warm this runtime's clients
            with cold_containers() if cold else contextlib.nullcontext():
                before = counter.snapshot()
                began = time.perf_counter()
                result = start(workflow, args=args).return_value
                seconds.append(time.perf_counter() - began)
                delta = counter.snapshot() - before
        if check is not None and not check(result):
            raise AssertionError(f"unexpected result {result!r}")
        first = first or delta
    assert first is not None
    return Measurement(seconds, first, result)


def measure_server(
    counter: CallCounter, workflow: Any, args: list[Any], *, repeat: int, check: Any = None
) -> Measurement:
    """Start-to-result time against a moto server over HTTP (one server, warm)."""
    from ._server import ServerStack
    from .workflows import chain

    seconds: list[float] = []
    first: Snapshot | None = None
    result: Any = None
    with moto_tuning(), ServerStack() as stack:
        stack.run(chain, [1])  # warm-up
        for _ in range(repeat):
            before = counter.snapshot()
            began = time.perf_counter()
            result = stack.run(workflow, args)
            seconds.append(time.perf_counter() - began)
            delta = counter.snapshot() - before
            if check is not None and not check(result):
                raise AssertionError(f"unexpected result {result!r}")
            first = first or delta
    assert first is not None
    return Measurement(seconds, first, result)


def per_step(snapshot: Snapshot, steps: int) -> dict[str, Any]:
    handler = snapshot.by_op("handler")
    return {
        "handler_calls_per_step": snapshot.total("handler") / steps,
        "handler_by_operation_per_step": {op: n / steps for op, n in handler.items()},
        "poller_calls_per_step": snapshot.total("poller") / steps,
        "poller_by_operation_per_step": {
            op: n / steps for op, n in snapshot.by_op("poller").items()
        },
        "messages_sent_per_step": snapshot.messages["handler"] / steps,
        "items_read_per_step": snapshot.items["handler"] / steps,
        "bytes_read_per_step": snapshot.bytes["handler"] / steps,
    }


@contextlib.contextmanager
def ours_on_local_runtime(
    info: dict[str, Any], *, tune: bool = True
) -> Iterator[Callable[[int], float]]:
    """Ours as a peers-style system: each run on a fresh, warmed LocalRuntime (moto
    tuned, or with ``tune=False`` as shipped: ``ADAPTER_TUNE_MOTO=0``)."""
    from unittest import mock

    from adapter import start
    from adapter.testing import LocalRuntime

    from .workflows import chain

    info["setup"] = "a fresh LocalRuntime per run, warmed by a 1-step run"
    info["ADAPTER_TUNE_MOTO"] = "1" if tune else "0"

    def run(n: int) -> float:
        # Read when the LocalRuntime starts (which patches apply); set for its whole life,
        # as LocalRuntime puts back on exit the environment it found.
        with (
            mock.patch.dict(os.environ, {"ADAPTER_TUNE_MOTO": info["ADAPTER_TUNE_MOTO"]}),
            LocalRuntime(),
        ):
            _ = start(chain, args=[1]).return_value
            began = time.perf_counter()
            value = start(chain, args=[n]).return_value
            elapsed = time.perf_counter() - began
        if value != n:
            raise AssertionError(f"a {n}-step chain returned {value!r}")
        return elapsed

    yield run


# --- the sections ----------------------------------------------------------------------------


class Suite:
    def __init__(self, sizes: Sizes, *, quick: bool, profile_path: Path) -> None:
        self.sizes = sizes
        self.quick = quick
        self.profile_path = profile_path
        self.counter = CallCounter.install()
        self.results: dict[str, Any] = {}
        self.errors: dict[str, str] = {}
        # Kept between sections: (c)'s chains are reused by (f).
        self._ours: dict[str, dict[int, list[float]]] = {}

    def run(self, sections: list[str], progress: Callable[[str], None]) -> dict[str, Any]:
        began = time.perf_counter()
        self.results["meta"] = machine_info(self.quick)
        self.results["meta"]["moto"] = moto_label()
        self._warm_up(progress)
        for name in sections:
            progress(f"{name} ...")
            section_began = time.perf_counter()
            into: dict[str, Any] = {}
            try:
                with count_logs(into):
                    getattr(self, f"bench_{name}")(into)
            except Exception as exc:  # one failing section never stops the others
                into["error"] = f"{type(exc).__name__}: {exc}"
                self.errors[name] = traceback.format_exc()
                progress(f"{name} FAILED: {type(exc).__name__}: {exc}")
            into["section_seconds"] = time.perf_counter() - section_began
            self.results[name] = into
            progress(f"{name} done in {into['section_seconds']:.1f}s")
        self.results["errors"] = self.errors
        self.results["meta"]["total_seconds"] = time.perf_counter() - began
        self.results["meta"]["loadavg_end"] = _loadavg()
        return self.results

    def _warm_up(self, progress: Callable[[str], None]) -> None:
        """Import everything and run each workflow once, so no measurement pays for it."""
        progress("warm-up ...")
        try:
            from adapter import start
            from adapter.testing import LocalRuntime
            from samples.fanout import process_batch

            from .workflows import chain, parallel

            with LocalRuntime():
                for workflow, args in ((chain, [3]), (parallel, [3]), (process_batch, [[1, 2]])):
                    _ = start(workflow, args=args).return_value
        except Exception:
            self.errors["warm-up"] = traceback.format_exc()

    # (a) ---------------------------------------------------------------------------------
    def bench_calls(self, into: dict[str, Any]) -> None:
        from .workflows import chain

        n = self.sizes.calls_chain
        m = measure_local(self.counter, chain, [n], check=lambda r: r == n)
        into.update(
            steps=n,
            wall_s=m.median,
            **per_step(m.counts, n),
            totals=m.counts.as_dict(),
        )

    # (b) ---------------------------------------------------------------------------------
    def bench_replay(self, into: dict[str, Any]) -> None:
        for mode, sizes in (("warm", self.sizes.replay_chains), ("cold", self.sizes.cold_chains)):
            try:
                rows = self._replay_rows(sizes, cold=mode == "cold")
            except Exception as exc:
                into[mode] = {"error": f"{type(exc).__name__}: {exc}"}
                self.errors[f"replay.{mode}"] = traceback.format_exc()
                continue
            mid, large = sizes[-2], sizes[-1]
            a, b = rows[str(mid)], rows[str(large)]
            into[mode] = {
                "chains": rows,
                "growth": {
                    "steps_ratio": large / mid,
                    "items_ratio": _growth(b["items_read"], a["items_read"]),
                    "bytes_ratio": _growth(b["bytes_read"], a["bytes_read"]),
                    "wall_ratio": b["wall_s"] / a["wall_s"],
                    "target_items_ratio": 4.5 * (large / mid) / 4,
                    "label": f"items({large})/items({mid})",
                },
            }
        into["note"] = (
            "warm: LocalRuntime as is, one process = one warm Lambda container that keeps "
            "each run's log in memory; cold: that cache emptied before every message, as "
            "if each invocation ran on a fresh container (the worst case)"
        )

    def _replay_rows(self, sizes: tuple[int, ...], *, cold: bool) -> dict[str, Any]:
        from .workflows import chain

        rows: dict[str, Any] = {}
        for n in sizes:
            m = measure_local(self.counter, chain, [n], cold=cold, check=partial(operator.eq, n))
            rows[str(n)] = {
                "steps": n,
                "items_read": m.counts.items["handler"],
                "bytes_read": m.counts.bytes["handler"],
                "items_read_all_roles": sum(m.counts.items.values()),
                "bytes_read_all_roles": sum(m.counts.bytes.values()),
                "handler_calls": m.counts.total("handler"),
                "handler_calls_per_step": m.counts.total("handler") / n,
                "items_per_step": m.counts.items["handler"] / n,
                "bytes_per_step": m.counts.bytes["handler"] / n,
                "reads_by_operation": {
                    op: c for op, c in m.counts.by_op("handler").items() if op in _READS
                },
                "wall_s": m.median,
                "steps_per_s": n / m.median,
            }
        return rows

    # (c) ---------------------------------------------------------------------------------
    def bench_throughput(self, into: dict[str, Any]) -> None:
        from .workflows import chain

        n, small, repeat = self.sizes.throughput_chain, self.sizes.small_chain, self.sizes.repeat
        variants: dict[str, Any] = {}
        runners: tuple[tuple[str, Callable[[Any, list[Any]], Measurement]], ...] = (
            ("local", lambda wf, a: self._local(wf, a, repeat)),
            ("server", lambda wf, a: self._server(wf, a, repeat)),
        )
        for label, how in runners:
            try:
                for size in (small, n):
                    m = how(chain, [size])
                    self._ours.setdefault(label, {})[size] = m.seconds
                    if size == n:
                        variants[label] = {
                            "steps": n,
                            "seconds": m.seconds,
                            "median_s": m.median,
                            "steps_per_s": n / m.median,
                            "ms_per_step": 1000 * m.median / n,
                            "handler_calls_per_step": m.counts.total("handler") / n,
                            "poller_calls_per_step": m.counts.total("poller") / n,
                        }
                variants[label]["median_s_small"] = statistics.median(self._ours[label][small])
            except Exception as exc:
                variants[label] = {"error": f"{type(exc).__name__}: {exc}"}
                self.errors[f"throughput.{label}"] = traceback.format_exc()
        try:
            variants["local_stock_moto"] = self._stock_moto(n, repeat)
        except Exception as exc:
            variants["local_stock_moto"] = {"error": f"{type(exc).__name__}: {exc}"}
            self.errors["throughput.local_stock_moto"] = traceback.format_exc()
        into.update(variants=variants, steps=n, repeat=repeat, moto=moto_label())
        local, stock = variants.get("local", {}), variants.get("local_stock_moto", {})
        if "median_s" in local and "median_s" in stock:
            into["moto_tuning_speedup"] = stock["median_s"] / local["median_s"]

    def _stock_moto(self, n: int, repeat: int) -> dict[str, Any]:
        """The same chain in a child process whose moto is left as installed."""
        command = [sys.executable, "-m", "benchmarks._stock", "--sizes", str(n)]
        command += ["--repeat", str(repeat)]
        done = subprocess.run(
            command, cwd=ROOT.parent, capture_output=True, text=True, timeout=900, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {done.stderr.strip()[-600:]}")
        data = json.loads(done.stdout)
        median = data["median_s"][str(n)]
        return {
            "steps": n,
            "seconds": data["seconds"][str(n)],
            "median_s": median,
            "steps_per_s": n / median,
            "ms_per_step": 1000 * median / n,
            "moto": data["moto"],
            "moto_stock_verified": data["moto_stock_verified"],
            "process": "child process (python -m benchmarks._stock)",
        }

    def _local(self, wf: Any, args: list[Any], repeat: int) -> Measurement:
        n = args[0]
        return measure_local(self.counter, wf, args, repeat=repeat, check=lambda r: r == n)

    def _server(self, wf: Any, args: list[Any], repeat: int) -> Measurement:
        n = args[0]
        return measure_server(self.counter, wf, args, repeat=repeat, check=lambda r: r == n)

    # (d) ---------------------------------------------------------------------------------
    def bench_fanout(self, into: dict[str, Any]) -> None:
        from samples.fanout import process_batch

        n = self.sizes.fanout

        def complete(result: Any) -> bool:
            return int(result["succeeded"]) + len(result["failed"]) == n

        m = measure_local(self.counter, process_batch, [list(range(n))], check=complete)
        counts = m.counts
        into.update(
            children=n,
            wall_s=m.median,
            children_per_s=n / m.median,
            succeeded=m.result["succeeded"],
            failed=len(m.result["failed"]),
            handler_calls=counts.total("handler"),
            handler_calls_per_child=counts.total("handler") / n,
            handler_by_operation=counts.by_op("handler"),
            poller_calls=counts.total("poller"),
            client_calls=counts.total("client"),
            messages_sent=counts.messages["handler"],
            items_read=counts.items["handler"],
        )

    # (e) ---------------------------------------------------------------------------------
    def bench_parallel(self, into: dict[str, Any]) -> None:
        from .workflows import parallel

        n = self.sizes.parallel
        expected = sum(i + 1 for i in range(n))
        m = measure_local(self.counter, parallel, [n], check=lambda r: r == expected)
        counts = m.counts
        into.update(
            steps=n,
            wall_s=m.median,
            steps_per_s=n / m.median,
            handler_calls=counts.total("handler"),
            handler_calls_per_step=counts.total("handler") / n,
            handler_by_operation=counts.by_op("handler"),
            poller_calls=counts.total("poller"),
            client_calls=counts.total("client"),
            messages_sent=counts.messages["handler"],
            items_read=counts.items["handler"],
            bytes_read=counts.bytes["handler"],
        )

    # (f) ---------------------------------------------------------------------------------
    def bench_peers(self, into: dict[str, Any]) -> None:
        from . import _peers

        small, n, repeat = (
            self.sizes.small_chain,
            self.sizes.throughput_chain,
            self.sizes.peer_repeat,
        )
        # Ours on LocalRuntime and the peers, interleaved run by run (see _peers). The
        # peers pay for no call counting: neither does ours here.
        with self.counter.suspended():
            measured = _peers.interleave(
                {
                    "local": ours_on_local_runtime,
                    "local_untuned": partial(ours_on_local_runtime, tune=False),
                    "aws_durable_local_runner": _peers.aws_durable,
                    "dbos_sqlite": _peers.dbos_sqlite,
                },
                (small, n),
                repeat,
            )
        ours = {"local": measured.pop("local"), "local_untuned": measured.pop("local_untuned")}
        # The moto server shares moto's state with in-process moto (a LocalRuntime start
        # would reset it), so it is not interleaved: its numbers come from (c).
        server = self._ours.get("server", {})
        if small in server and n in server:
            ours["server"] = {
                **_peers.summarize({k: server[k] for k in (small, n)}),
                "note": "from (c), not interleaved with the peers",
            }
        ratios: dict[str, Any] = {}
        for our_label, our in ours.items():
            for their_label, their in measured.items():
                if not (our.get("ok") and their.get("ok")):
                    continue
                ratios[f"{our_label}/{their_label}"] = {
                    "per_step_ms": _ratio(our["per_step_ms"], their["per_step_ms"]),
                    "fixed_ms": _ratio(our["fixed_ms"], their["fixed_ms"]),
                    "steps_per_s": _ratio(our["steps_per_s"], their["steps_per_s"]),
                    f"run_{small}_steps": _ratio(
                        our["median_s"][str(small)], their["median_s"][str(small)]
                    ),
                    f"run_{n}_steps": _ratio(our["median_s"][str(n)], their["median_s"][str(n)]),
                }
        for name, result in [*ours.items(), *measured.items()]:
            if not result.get("ok"):
                self.errors[f"peers.{name}"] = result.get("traceback", result.get("error", ""))
        into.update(
            sizes=[small, n],
            repeat=repeat,
            interleaved=True,
            ours=ours,
            peers=measured,
            ratios=ratios,
        )

    # (g) ---------------------------------------------------------------------------------
    def bench_profile(self, into: dict[str, Any]) -> None:
        from adapter import start
        from adapter.testing import LocalRuntime

        from ._profiling import ThreadProfiler
        from .workflows import chain

        n = self.sizes.profile_chain
        profiler = ThreadProfiler()
        # Invocation threads must start inside profiler.threads(): no warm-up run in this
        # runtime (the suite's warm-up already paid for imports and botocore models).
        with profiler.threads(), self.counter.suspended(), LocalRuntime():
            began = time.perf_counter()
            with profiler.main():
                result = start(chain, args=[n]).return_value
            wall = time.perf_counter() - began
        assert result == n
        sampled = sum(seconds for _, seconds in profiler.records())
        breakdown = profiler.breakdown()
        hotspots = profiler.hotspots(20)
        inclusive = profiler.inclusive(
            {
                "moto (anything under moto)": r"/moto/",
                "moto DynamoDB TransactWriteItems": r"transact_write_items\x00[^\n]*/moto/",
                "moto whole-table deepcopy (in TransactWriteItems)": (
                    r"transact_write_items\x00[^\n]*/moto/dynamodb/models/__init__\.py"
                    r"[^\n]*\ndeepcopy\x00"
                ),
                "botocore client calls (incl. moto under them)": r"/botocore/client\.py",
                "adapter replay engine (core/_replay.py)": r"/adapter/core/_replay\.py",
                "adapter workflow turns (runtime/_turn.py)": r"/adapter/runtime/_turn\.py",
                "adapter step attempts (runtime/_step.py)": r"/adapter/runtime/_step\.py",
                "powertools batch processor": r"/aws_lambda_powertools/",
            }
        )
        pct = {k: 100 * v / sampled for k, v in breakdown.items()} if sampled else {}
        adapter_share = sum(v for k, v in breakdown.items() if k.startswith("adapter"))
        if sampled < 0.3 * wall or not inclusive["adapter workflow turns (runtime/_turn.py)"]:
            into["warning"] = (
                "the profile seems to miss the invocation threads (sampled "
                f"{sampled:.2f}s of {wall:.2f}s wall; adapter frames {adapter_share:.2f}s): "
                "has LocalRuntime's threading changed?"
            )
        into.update(
            steps=n,
            moto=moto_label(),
            wall_s_with_profiler=wall,
            sampled_s=sampled,
            breakdown_s=breakdown,
            breakdown_pct=pct,
            hotspots=[
                {"function": f, "self_s": s, "pct": 100 * s / sampled if sampled else 0}
                for f, s in hotspots
            ],
            inclusive_pct={k: 100 * v / sampled if sampled else 0 for k, v in inclusive.items()},
            file=str(self.profile_path),
        )
        self.profile_path.write_text(_profile_text(into, profiler.render()))


_READS = ("Query", "GetItem", "BatchGetItem", "Scan")


def _growth(larger: float, smaller: float) -> float | None:
    """How much a cost grew; reading nothing at both sizes is no growth at all."""
    if larger == smaller == 0:
        return 1.0
    return _ratio(larger, smaller)


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def _profile_text(data: dict[str, Any], tree: str) -> str:
    lines = [
        f"pyinstrument profile: {data['steps']}-step sequential chain on LocalRuntime "
        f"(in-process moto, {data['moto']})",
        f"wall time with the profiler on: {data['wall_s_with_profiler']:.2f}s; "
        f"sampled (all threads, join waits dropped): {data['sampled_s']:.2f}s",
        "",
        "Time by package (each sample charged to its innermost frame in a known package;",
        "stdlib frames such as copy/json/threading go to their caller):",
    ]
    for name, seconds in data["breakdown_s"].items():
        lines.append(f"  {seconds:8.2f}s  {data['breakdown_pct'][name]:5.1f}%  {name}")
    lines += ["", "Inclusive time (samples whose stack contains ...):"]
    for name, pct in data["inclusive_pct"].items():
        lines.append(f"  {pct:5.1f}%  {name}")
    lines += ["", "Hotspots (self time):"]
    for row in data["hotspots"]:
        lines.append(f"  {row['self_s']:8.2f}s  {row['pct']:5.1f}%  {row['function']}")
    lines += ["", "Call tree (invocation threads merged under <invocations>):", "", tree]
    return "\n".join(lines)


# --- machine --------------------------------------------------------------------------------


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=ROOT.parent, capture_output=True, text=True, timeout=10
        )
        return out.stdout.strip() if out.returncode == 0 else None
    except Exception:
        return None


def machine_info(quick: bool) -> dict[str, Any]:
    dirty = _git("status", "--porcelain", "--", "adapter")
    return {
        "date_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": " ".join(["python -m benchmarks", *sys.argv[1:]]),
        "quick": quick,
        "sizes": asdict(QUICK if quick else FULL),
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "machine": platform.machine(),
        "system": f"{platform.system()} {platform.release()}",
        "loadavg_start": _loadavg(),
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "adapter_dirty": bool(dirty) if dirty is not None else None,
        "versions": {
            name: _version(name)
            for name in (
                "adapter",
                "moto",
                "boto3",
                "botocore",
                "pydantic",
                "aws-lambda-powertools",
                "pyinstrument",
                "aws-durable-execution-sdk-python",
                "aws-durable-execution-sdk-python-testing",
                "dbos",
            )
        },
        "notes": {
            "roles": "handler = calls made while serving a queue message (the Lambda "
            "invocation); poller = SQS Receive/DeleteMessage of the event-source mapping "
            "emulation; client = start() and run.return_value of the benchmark itself",
            "moto": "LocalRuntime tunes moto while it runs (adapter._moto), unless "
            "ADAPTER_TUNE_MOTO=0; the moto server runs here get the same tuning (as adapter "
            "dev does); local_stock_moto runs in a child process with ADAPTER_TUNE_MOTO=0; "
            "peers.ours.local_untuned is LocalRuntime with ADAPTER_TUNE_MOTO=0, "
            "interleaved with the peers",
        },
    }
