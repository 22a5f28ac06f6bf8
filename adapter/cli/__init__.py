"""The ``adapter`` command: a local dev stack, and runs at your fingertips.

``adapter dev`` runs the whole stack on this machine (see :mod:`adapter.dev`). The
other commands read and drive runs on any stack, local or on AWS, through the client API
(``start``, ``get_run``, ``page_runs``, ``resume_hook``, ``Run.cancel``) and the
runtime's event log, never through the HTTP API. They find the stack from, in order:

1. the ``ADAPTER_*`` environment variables (``AWS_ENDPOINT_URL``, a profile and a region
   as boto3 reads them), as set for your deployed stack or exported from ``adapter dev``;
2. else the ``.adapter-dev.json`` that ``adapter dev`` writes, looked up from the current
   directory upwards (or named by ``ADAPTER_DEV_FILE``);

and ``--endpoint-url``, ``--profile`` and ``--region`` override what those say. Every
read command takes ``--json`` and prints the same shapes as the HTTP API. Errors are one
line on stderr (with ``--json``: ``{"error": {"code", "message"}}``); the exit status is
0 on success, 1 on a failure (or a failed or cancelled run, for ``start --wait`` and
``runs result``), 2 on a usage error.

Modules: ``_app`` (the root group, global options, error reporting), ``_errors`` (the
wording and exit codes), ``_connection`` (finding the stack), ``_options`` (shared
options), ``_render`` and ``_show`` (output), ``_timeline`` (the spans drawn), and one
module per command group: ``start``, ``runs``, ``hooks``, ``dev``.
"""

from ._app import app, main
from ._errors import CliError

__all__ = ["CliError", "app", "main"]
