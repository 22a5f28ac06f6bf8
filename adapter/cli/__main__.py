"""``python -m adapter.cli``: the same as the ``adapter`` console script."""

from . import main

main()
