"""The `soundnet` console script, the one front door of hf_soundnet's commands: `soundnet classify`, `soundnet
extract`, `soundnet convert`, `soundnet push`, `soundnet units` and `soundnet demo` (see `soundnet COMMAND --help`). Each command parses
its options and calls the library; the example scripts (`examples/`) are thin scripts over the same library calls.

Options are spelled in kebab-case (`--output-dir`, `--num-workers`, `--use-cpu`, `--push-to-hub`); the snake_case
spelling (`--output_dir`) is accepted too, as in the example scripts, which take the same names.
`--quiet` prints nothing but errors.

Exit status (the same for every command and example script of hf_soundnet, `hf_soundnet.exit_status`):
  0  done
  1  some inputs failed (each reported on stderr and in the output) or the work failed
  2  usage error: bad options, or an input they name that cannot be used (no checkpoint, no audio); nothing done
  3  the result is saved locally but the Hub push failed (push the folder again later)
"""

import argparse
import atexit
import os
import sys

from .. import __version__
from . import classify, convert, demo, extract, push, units
from .common import EXIT_FAILED_FILES, EXIT_OK, EXIT_PUSH_FAILED, EXIT_USAGE, UsageError
from .options import parse_command_line, silenced


# The subcommand table: name -> module with `add_arguments(parser)`, `run(args) -> int` and a docstring.
COMMANDS = {
    "classify": classify,
    "extract": extract,
    "convert": convert,
    "push": push,
    "units": units,
    "demo": demo,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="soundnet", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module in COMMANDS.items():
        doc = module.__doc__ or ""
        sub = subparsers.add_parser(
            name,
            help=doc.strip().splitlines()[0],
            description=doc,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            allow_abbrev=False,  # options are spelled whole: no prefix of one option stands for another
        )
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `soundnet` script; returns the exit status."""
    parser = build_parser()
    try:
        args = parse_command_line(parser, argv)
    except SystemExit as exit_:  # argparse exits 2 on usage errors, 0 for --help and --version
        return int(exit_.code or 0)
    try:
        with silenced(args.quiet):
            return args.run(args)
    except UsageError as err:
        print(f"soundnet {args.command}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("soundnet: interrupted; run the same command again to resume.", file=sys.stderr)
        return 130


def console_main() -> None:
    """
    The `soundnet` script and `python -m hf_soundnet.cli`: [`main`], then the process ends with its exit status
    without the interpreter's teardown of torch, transformers and FFmpeg's libraries, which costs a one-file
    `soundnet classify` 0.3-0.8 s (README, "Benchmarks", start-up row). Nothing is lost: by then every file the command
    wrote is closed and its processes are joined, the `atexit` handlers (logging, multiprocessing) run as at a normal
    exit, and stdout and stderr are flushed. Python callers use [`main`], which returns.
    """
    status = main()
    try:
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(status)


__all__ = [
    "COMMANDS",
    "EXIT_FAILED_FILES",
    "EXIT_OK",
    "EXIT_PUSH_FAILED",
    "EXIT_USAGE",
    "UsageError",
    "build_parser",
    "console_main",
    "main",
]
