"""The `soundnet` console script: `soundnet classify`, `soundnet extract` and `soundnet convert` (see `soundnet --help`).

Exit status: 0 when every file was processed, 1 when some files failed (each reported on stderr and in the
output), 2 on a usage error (bad options, no checkpoint, no input), 3 when the work was saved but the Hub push
failed (`soundnet convert --push-to-hub`).
"""

import argparse
import sys

from . import classify, convert, extract
from .common import EXIT_FAILED_FILES, EXIT_OK, EXIT_USAGE, UsageError


# The subcommand table: name -> module with `add_arguments(parser)`, `run(args) -> int` and a docstring.
COMMANDS = {"classify": classify, "extract": extract, "convert": convert}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="soundnet", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module in COMMANDS.items():
        doc = module.__doc__ or ""
        sub = subparsers.add_parser(
            name,
            help=doc.strip().splitlines()[0],
            description=doc,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `soundnet` script; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse exits 2 on usage errors and 0 for --help
        return int(exit_.code or 0)
    try:
        return args.run(args)
    except UsageError as err:
        print(f"soundnet {args.command}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("soundnet: interrupted; run the same command again to resume.", file=sys.stderr)
        return 130


__all__ = ["COMMANDS", "EXIT_FAILED_FILES", "EXIT_OK", "EXIT_USAGE", "UsageError", "build_parser", "main"]
