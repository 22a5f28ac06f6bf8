"""Options and arguments shared by the commands, and the classes that render their help.

Boolean flags show no ``<bool>`` type in ``--help`` (:class:`Command`, :class:`Group`);
options that take a value name it (``JSON``, ``NAME``, ``URL``...) instead of ``<str>``.
"""

from __future__ import annotations

import inspect
import json
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup


def parse_json(text: str, option: str) -> Any:
    """``text`` as JSON, or a usage error (exit status 2) naming ``option``."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"not valid JSON: {exc}", param_hint=option) from None


def _no_type(ctx: Any) -> None:
    return None


def _untyped_flags(params: list[Any]) -> list[Any]:
    # A flag takes no value, so a "<bool>" type beside it in the help only misleads; an
    # argument is named by its metavar (RUN_ID, TOKEN), which says more than "<str>".
    for param in params:
        if getattr(param, "is_bool_flag", False) and param.metavar is None:
            param.metavar = ""
        elif param.param_type_name == "argument" and param.metavar is not None:
            object.__setattr__(param, "display_type_rich", _no_type)
    return params


def _reflowed(text: str | None) -> str | None:
    # typer's rich help keeps a docstring's single line breaks, so wrapped source lines
    # would come out as ragged lines: join each paragraph into one line, and let the
    # terminal's width wrap it.
    if not text:
        return text
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(" ".join(p.split()) for p in paragraphs)


# ``ctx`` is typed ``Any`` below: the base classes take the Context of the click that typer
# bundles (``typer._click``, private), which ``typer.Context`` only subclasses, so naming
# the public one would narrow the override.


class Command(TyperCommand):
    """A command whose help lists flags (``--json``, ``--wait``, ``--help``) without a type,
    and whose docstring paragraphs wrap to the terminal."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help = _reflowed(self.help)

    def get_params(self, ctx: Any) -> list[Any]:
        return _untyped_flags(super().get_params(ctx))


class Group(TyperGroup):
    """A command group whose help lists flags without a type, its paragraphs wrapped."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help = _reflowed(self.help)

    def get_params(self, ctx: Any) -> list[Any]:
        return _untyped_flags(super().get_params(ctx))


EndpointOpt = Annotated[
    str | None,
    typer.Option(
        "--endpoint-url",
        metavar="URL",
        help="AWS endpoint to use (a moto server, LocalStack…); default: AWS_ENDPOINT_URL.",
        show_default=False,
    ),
]
ProfileOpt = Annotated[
    str | None,
    typer.Option(
        "--profile",
        metavar="NAME",
        help="AWS profile to use; default: AWS_PROFILE.",
        show_default=False,
    ),
]
RegionOpt = Annotated[
    str | None,
    typer.Option(
        "--region",
        metavar="REGION",
        help="AWS region; default: AWS_DEFAULT_REGION.",
        show_default=False,
    ),
]
JsonOpt = Annotated[
    bool,
    typer.Option(
        "--json",
        help="Print machine-readable JSON (the HTTP API's shapes); errors too, on stderr.",
    ),
]
RunIdArg = Annotated[str, typer.Argument(metavar="RUN_ID", help="The run id (wrun_…).")]
WaitOpt = Annotated[
    bool, typer.Option("--wait", help="Follow the run until it ends, then print its result.")
]
TimeoutOpt = Annotated[
    float | None,
    typer.Option("--timeout", metavar="SECONDS", help="With --wait: give up after this long."),
]
