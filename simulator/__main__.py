"""``python -m simulator``: the same as ``signalbox simulate``, without the other commands."""

from __future__ import annotations

import argparse
import sys

from signalbox.settings import Settings
from signalbox.simulator import cli


def main(argv: list[str] | None = None) -> int:
    """Parse the simulate flags and run."""
    parser = argparse.ArgumentParser(prog="python -m simulator", description=cli.__doc__)
    cli.add_arguments(parser)
    return cli.run(parser.parse_args(argv), Settings())


if __name__ == "__main__":
    sys.exit(main())
