"""Testing helpers: ``LocalRuntime`` (the whole stack in-process on moto, with a virtual
clock) and ``replay`` (check changed workflow code against a recorded event log)."""

from ._clock import VirtualClock
from ._replayer import ReplayResult, load_events, replay
from ._runtime import LocalRuntime

__all__ = ["LocalRuntime", "ReplayResult", "VirtualClock", "load_events", "replay"]
