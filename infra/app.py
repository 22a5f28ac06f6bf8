"""The CDK app: ``cd infra && cdk deploy`` (with aws-cdk-lib in the active Python).

Run as a script (``python3 app.py``, as cdk.json says), so ``adapter_infra`` beside it
is importable.

Synthesizes :class:`adapter_infra.stack.AdapterStack`, the CDK twin of template.yaml.
The function package is bundled locally (pip, no Docker); see adapter_infra/bundling.py.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# The construct reads its names and rules from the adapter package: the repository's
# copy, whether or not it is installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aws_cdk as cdk
from adapter_infra.stack import AdapterStack

app = cdk.App()
AdapterStack(
    app,
    app.node.try_get_context("stackName") or "AdapterWorkflows",
    env=cdk.Environment(
        account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION")
    ),
    description="adapter: durable workflows on AWS Lambda (CDK twin of template.yaml)",
)
app.synth()
