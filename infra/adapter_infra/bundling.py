"""Bundle a Python Lambda package on this machine, without Docker.

CDK tries ``ILocalBundling.try_bundle`` before it would start a container; this one
always succeeds or raises, so Docker is never needed. It does what ``sam build
--manifest infra/requirements-lambda.txt`` does for template.yaml: copy the source tree
(minus the excluded paths) and pip-install the requirements as wheels built for the
function's platform (``manylinux2014_aarch64`` for arm64) and Python version.

Bundling needs the package index (pip downloads the wheels), so tests synthesize with
bundling turned off (the ``aws:cdk:bundling-stacks`` context set to ``[]``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Sequence
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii

_PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}


def _ignore(root: Path, exclude: Sequence[str]) -> Any:
    """A ``shutil.copytree`` ignore function for CDK-style exclude globs."""

    def ignore(directory: str, names: list[str]) -> set[str]:
        rel_dir = Path(directory).relative_to(root)
        skipped = set()
        for name in names:
            rel = (rel_dir / name).as_posix()
            if any(fnmatch(name, pattern) or fnmatch(rel, pattern) for pattern in exclude):
                skipped.add(name)
        return skipped

    return ignore


@jsii.implements(cdk.ILocalBundling)
class LocalPipBundling:
    """Copy ``source`` (without ``exclude``) and pip-install ``requirements`` beside it.

    Args:
        source: The directory whose tree becomes the package root.
        requirements: A pip requirements file, or ``None`` to copy the source only.
        exclude: Glob patterns (file names or paths relative to ``source``) left out.
        python_version: The runtime's Python version, e.g. ``"3.12"``.
        architecture: ``"arm64"`` or ``"x86_64"``.
    """

    def __init__(
        self,
        source: Path,
        requirements: Path | None,
        exclude: Sequence[str],
        *,
        python_version: str = "3.12",
        architecture: str = "arm64",
    ) -> None:
        self.source = source
        self.requirements = requirements
        self.exclude = list(exclude)
        self.python_version = python_version
        self.platform = _PLATFORMS[architecture]

    def pip_command(self, output_dir: str) -> list[str]:
        """The pip invocation that installs the requirements into ``output_dir``."""
        assert self.requirements is not None
        return [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
            "--only-binary=:all:",
            f"--platform={self.platform}",
            "--implementation=cp",
            f"--python-version={self.python_version}",
            f"--target={output_dir}",
            "--requirement",
            str(self.requirements),
        ]

    def try_bundle(self, output_dir: str, *_options: Any, **_kw: Any) -> bool:
        """Fill ``output_dir``; jsii passes the BundlingOptions too, which are unused."""
        shutil.copytree(
            self.source,
            output_dir,
            ignore=_ignore(self.source, self.exclude),
            dirs_exist_ok=True,
        )
        if self.requirements is not None:
            result = subprocess.run(
                self.pip_command(output_dir), capture_output=True, text=True, check=False
            )
            if result.returncode != 0:
                raise RuntimeError(
                    f"pip could not install {self.requirements} for {self.platform}:\n"
                    f"{result.stdout}{result.stderr}"
                )
        return True
