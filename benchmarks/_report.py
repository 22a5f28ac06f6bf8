"""Render the results as tables: rich when available, plain text otherwise."""

from __future__ import annotations

from typing import Any

Row = tuple[str, str, str]


def _f(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.{digits}f}"
    return str(value)


PEER_NAMES = {
    "aws_durable_local_runner": "AWS durable functions local runner",
    "dbos_sqlite": "DBOS Transact, SQLite",
}
OUR_NAMES = {
    "local": "adapter, LocalRuntime (in-process moto)",
    "server": "adapter, moto server over HTTP",
    "local_untuned": "adapter, LocalRuntime, ADAPTER_TUNE_MOTO=0 (moto as shipped)",
    "local_stock_moto": "adapter, LocalRuntime, moto untuned",
}


def summary_rows(r: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    calls = r.get("calls", {})
    if "handler_calls_per_step" in calls:
        rows.append(
            (
                f"(a) handler AWS calls / step ({calls['steps']}-step chain)",
                _f(calls["handler_calls_per_step"], 2),
                "poller (Receive+Delete) / step: "
                f"{_f(calls['poller_calls_per_step'], 2)}; SQS messages sent / step: "
                f"{_f(calls['messages_sent_per_step'], 2)}",
            )
        )
    replay = r.get("replay", {})
    for mode in ("warm", "cold"):
        data = replay.get(mode, {})
        if "error" in data:
            rows.append((f"(b) reads, {mode} containers", "error", data["error"][:90]))
            continue
        for size, row in data.get("chains", {}).items():
            rows.append(
                (
                    f"(b) items / bytes read, {size}-step chain, {mode}",
                    f"{_f(row['items_read'])} / {_f(row['bytes_read'])}",
                    f"{_f(row['items_per_step'], 2)} items/step, "
                    f"{_f(row['bytes_per_step'], 0)} B/step; "
                    f"{_f(row['steps_per_s'])} steps/s",
                )
            )
        if "growth" in data:
            g = data["growth"]
            ratio = g["items_ratio"]
            verdict = (
                "-" if ratio is None else "OK" if ratio <= g["target_items_ratio"] else "ABOVE"
            )
            rows.append(
                (
                    f"(b) growth {g['label']}, {mode} ({_f(g['steps_ratio'], 0)}x steps)",
                    _f(ratio, 2),
                    f"target <= {_f(g['target_items_ratio'], 1)}: {verdict}; bytes x"
                    f"{_f(g['bytes_ratio'], 2)}; wall x{_f(g['wall_ratio'], 2)}",
                )
            )
    through = r.get("throughput", {})
    names = {
        "local": "LocalRuntime",
        "server": "moto server over HTTP",
        "local_stock_moto": "LocalRuntime, ADAPTER_TUNE_MOTO=0 (child process)",
    }
    for key, v in through.get("variants", {}).items():
        if "error" in v:
            rows.append((f"(c) steps/s, {names.get(key, key)}", "error", v["error"][:80]))
            continue
        rows.append(
            (
                f"(c) steps/s, {v['steps']}-step chain, {names.get(key, key)}",
                _f(v["steps_per_s"]),
                f"{_f(v['ms_per_step'])} ms/step; median of {len(v['seconds'])}: "
                f"{_f(v['median_s'], 2)}s",
            )
        )
    fan = r.get("fanout", {})
    if "wall_s" in fan:
        rows.append(
            (
                f"(d) fan-out of {fan['children']:,} child runs",
                f"{_f(fan['wall_s'])} s",
                f"{_f(fan['handler_calls'])} handler calls "
                f"({_f(fan['handler_calls_per_child'], 1)}/child); "
                f"{_f(fan['children_per_s'])} children/s",
            )
        )
    par = r.get("parallel", {})
    if "wall_s" in par:
        rows.append(
            (
                f"(e) asyncio.gather of {par['steps']} steps",
                f"{_f(par['wall_s'])} s",
                f"{_f(par['handler_calls'])} handler calls "
                f"({_f(par['handler_calls_per_step'], 2)}/step); "
                f"{_f(par['steps_per_s'])} steps/s; {_f(par['items_read'])} items read",
            )
        )
    peers = r.get("peers", {})
    for label, ratio in peers.get("ratios", {}).items():
        ours, theirs = label.split("/")
        if ours in ("local", "local_untuned"):
            tuning = "" if ours == "local" else " (ADAPTER_TUNE_MOTO=0)"
            rows.append(
                (
                    f"(f) LocalRuntime{tuning} / {PEER_NAMES.get(theirs, theirs)}",
                    f"x{_f(ratio['per_step_ms'])} per step",
                    f"steps/s x{_f(ratio['steps_per_s'], 3)}; see the peers table",
                )
            )
    for label, v in peers.get("peers", {}).items():
        if not v.get("ok"):
            rows.append((f"(f) {PEER_NAMES.get(label, label)}", "not run", v["error"][:90]))
    prof = r.get("profile", {})
    if "breakdown_pct" in prof:
        top = list(prof["breakdown_pct"].items())[:3]
        rows.append(
            (
                f"(g) profile, {prof['steps']}-step chain",
                f"{_f(prof['sampled_s'])} s sampled",
                "; ".join(f"{name} {pct:.0f}%" for name, pct in top),
            )
        )
    for name, section in r.items():
        if isinstance(section, dict) and "error" in section and name != "errors":
            rows.append((f"{name}: FAILED", "error", str(section["error"])[:100]))
    return rows


def peer_rows(r: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    peers = r.get("peers", {})
    if "sizes" not in peers:
        return [], []
    small, large = peers["sizes"]
    headers = [
        "system",
        f"{small}-step run ms",
        f"{large}-step run ms",
        "per step ms",
        "fixed ms/run",
        "steps/s",
        "ours/theirs per step",
        f"ours/theirs {large}-step run",
        "untuned/theirs per step",
        f"untuned/theirs {large}-step run",
    ]
    rows: list[list[str]] = []
    entries = [(OUR_NAMES.get(k, k), k, v) for k, v in peers.get("ours", {}).items()]
    entries += [(PEER_NAMES.get(k, k), k, v) for k, v in peers.get("peers", {}).items()]
    for name, key, v in entries:
        if not v.get("ok"):
            rows.append([name, "not run: " + v.get("error", "")[:60], *[""] * 8])
            continue
        ratio = peers.get("ratios", {}).get(f"local/{key}", {})
        untuned = peers.get("ratios", {}).get(f"local_untuned/{key}", {})
        rows.append(
            [
                name,
                _f(1000 * v["median_s"][str(small)]),
                _f(1000 * v["median_s"][str(large)]),
                _f(v["per_step_ms"], 2),
                _f(v["fixed_ms"]),
                _f(v["steps_per_s"]),
                _f(ratio.get("per_step_ms")) if ratio else "",
                _f(ratio.get(f"run_{large}_steps")) if ratio else "",
                _f(untuned.get("per_step_ms")) if untuned else "",
                _f(untuned.get(f"run_{large}_steps")) if untuned else "",
            ]
        )
    return headers, rows


def calls_rows(r: dict[str, Any]) -> list[Row]:
    calls = r.get("calls", {})
    rows: list[Row] = []
    if "handler_by_operation_per_step" not in calls:
        return rows
    for op, n in calls["handler_by_operation_per_step"].items():
        rows.append(("handler", op, _f(n, 2)))
    for op, n in calls["poller_by_operation_per_step"].items():
        rows.append(("poller (excluded)", op, _f(n, 2)))
    for op, n in calls["totals"]["by_operation"]["client"].items():
        rows.append(("client (whole run)", op, _f(n)))
    return rows


def show(results: dict[str, Any], *, plain: bool = False) -> None:
    """Print the tables (rich when installed and not ``plain``)."""
    summary = summary_rows(results)
    calls = calls_rows(results)
    peer_headers, peers = peer_rows(results)
    try:
        if plain:
            raise ImportError
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(_plain(summary, calls, peer_headers, peers))
        return
    console = Console(width=max(160, Console().width))
    table = Table(title="adapter benchmarks", show_lines=False)
    for column in ("measurement", "value", "detail"):
        table.add_column(column)
    for row in summary:
        table.add_row(*row)
    console.print(table)
    if calls:
        steps = results["calls"]["steps"]
        t2 = Table(title=f"AWS calls per step, {steps}-step chain")
        for column in ("role", "operation", "per step"):
            t2.add_column(column)
        for row in calls:
            t2.add_row(*row)
        console.print(t2)
    if peers:
        t3 = Table(
            title="Peers: the same sequential chain, start to result "
            "(ours/theirs: LocalRuntime vs theirs)"
        )
        for column in peer_headers:
            t3.add_column(column)
        for prow in peers:
            t3.add_row(*prow)
        console.print(t3)


def _plain(
    summary: list[Row], calls: list[Row], peer_headers: list[str], peers: list[list[str]]
) -> str:
    def table(rows: Any, headers: Any) -> list[str]:
        widths = [max(len(x[i]) for x in [headers, *rows]) for i in range(len(headers))]
        line = "  ".join("-" * w for w in widths)
        out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)), line]
        out += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
        return out

    lines = table(summary, ("measurement", "value", "detail"))
    if calls:
        lines += ["", *table(calls, ("role", "operation", "per step"))]
    if peers:
        lines += ["", *table(peers, peer_headers)]
    return "\n".join(lines)
