"""Hypothesis settings for the property tests (and the chaos suite's random plans)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir

# Keep hypothesis' caches out of the repository; a failure prints its reproduction blob.
set_hypothesis_home_dir(str(Path(tempfile.gettempdir()) / "adapter-hypothesis"))
settings.register_profile("adapter", database=None, print_blob=True)
settings.load_profile("adapter")
