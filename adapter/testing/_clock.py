"""The virtual clock of ``LocalRuntime``: wall-clock time plus the skips made so far."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class VirtualClock:
    """Wall-clock time plus however far the clock was skipped ahead."""

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._offset_s = 0.0  # the same, in seconds: moto asks for the time very often
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def advance_to(self, moment: datetime) -> None:
        with self._lock:
            gap = moment - self.now()
            if gap > timedelta(0):
                self._offset += gap
                self._offset_s = self._offset.total_seconds()

    def unix(self, dt: datetime | None = None) -> float:
        """moto's ``unix_time``: seconds since the epoch, virtual unless given ``dt``."""
        if dt is not None:
            aware = dt if dt.tzinfo else dt.replace(tzinfo=UTC)
            return (aware - EPOCH).total_seconds()
        return time.time() + self._offset_s
