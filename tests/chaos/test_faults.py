"""AWS API faults (throttling, 5xx) before and after calls take effect, on every operation."""

from __future__ import annotations

from typing import Any

import pytest

from .faults import READ_OPERATIONS, SEND_OPERATIONS, FaultConfig
from .harness import cold_starts, run_scenario
from .workloads import standard_jobs

SCENARIOS = {
    "all-ops-both-phases": FaultConfig(seed=11, rate=0.10),
    "all-ops-before": FaultConfig(seed=12, rate=0.12, phases=("before",)),
    "all-ops-after": FaultConfig(seed=13, rate=0.12, phases=("after",)),
    "writes-after": FaultConfig(
        seed=14, rate=0.3, phases=("after",), operations=frozenset({"TransactWriteItems"})
    ),
    "sends": FaultConfig(seed=15, rate=0.3, operations=SEND_OPERATIONS),
    "reads": FaultConfig(seed=16, rate=0.25, operations=READ_OPERATIONS),
    "rare-ops-cold": FaultConfig(
        seed=17, rate=0.6, operations=frozenset({"SendMessageBatch", "PutObject", "GetObject"})
    ),
}
COLD = {"rare-ops-cold", "all-ops-after"}  # invocations in fresh containers read whole logs


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_every_run_ends_with_the_fault_free_result(
    name: str, baseline: dict[str, tuple[str, Any]]
) -> None:
    config = SCENARIOS[name]
    wrappers = [cold_starts] if name in COLD else []
    result = run_scenario(name, config, standard_jobs(name), baseline, around_drain=wrappers)
    assert result.faults.stats.total_faults > 0, "the scenario injected nothing"
    assert not result.violations, "\n".join(result.violations)
