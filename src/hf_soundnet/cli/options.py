"""
One spelling for every front door: the `soundnet` commands and the examples.

- The examples parse dataclasses with transformers' `HfArgumentParser` (snake_case fields, each also accepted in
  kebab-case) and, where `TrainingArguments` has a field for the thing, take that field with its name and meaning:
  `output_dir`, `use_cpu`, `seed`, `dataloader_num_workers`, `push_to_hub` + `hub_model_id` + `hub_token` +
  `hub_private_repo`, ...
- The argparse commands spell options in kebab-case and accept the snake_case spelling too, as `HfArgumentParser`
  does, so `--output-dir` and `--output_dir` both work everywhere ([`add_option`]).
- The same concept has the same name everywhere: `output_dir` (a folder is written), `output_file` (one file),
  `use_cpu`, `num_workers` (audio-decoding processes), `quiet`, and the four hub options ([`add_hub_arguments`]).

Exit statuses are in `hf_soundnet.cli.common` (`EXIT_*`) and documented in `hf_soundnet.cli`.
"""

import argparse
import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any


# `--quiet` everywhere: what it silences (progress bars, info and warning logs, Python warnings, summaries).
QUIET_HELP = "Print nothing but errors (no progress bars, logs, warnings or summaries); results are still written."


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """`--help` of the examples: the module docstring as written, and each option's default (as `HfArgumentParser`
    shows it by default)."""


class _DeprecatedAlias(argparse.Action):
    """A hidden old spelling of an option: warns (FutureWarning, naming the new spelling) and then acts as it."""

    def __init__(self, option_strings, dest, target: argparse.Action, **kwargs):
        kwargs.update(nargs=target.nargs, type=target.type, choices=target.choices, metavar=target.metavar)
        super().__init__(option_strings, dest, help=argparse.SUPPRESS, default=argparse.SUPPRESS, **kwargs)
        self.target = target

    def __call__(self, parser, namespace, values, option_string=None):
        warnings.warn(
            f"{option_string} is deprecated and will be removed; use {self.target.option_strings[0]}.",
            FutureWarning,
            stacklevel=2,
        )
        self.target(parser, namespace, values, self.target.option_strings[0])
        # argparse checks required options by the actions it saw, after parsing: the option is given, under its old
        # name. (This parser is built for one parse.)
        self.target.required = False


def add_option(
    parser: argparse.ArgumentParser, name: str, *, deprecated: Sequence[str] = (), **kwargs: Any
) -> argparse.Action:
    """
    Adds option `name` (snake_case) as `--kebab-case` with the `--snake_case` alias, like `HfArgumentParser`, plus
    hidden `deprecated` old spellings that warn and act as the option. `kwargs` go to `parser.add_argument`.

    Returns:
        `argparse.Action`: the option's action (its `dest` is `name`).
    """
    kebab, snake = f"--{name.replace('_', '-')}", f"--{name}"
    action = parser.add_argument(*dict.fromkeys([kebab, snake]), dest=name, **kwargs)
    for old in deprecated:
        parser.add_argument(old, dest=name, action=_DeprecatedAlias, target=action)
    return action


def add_quiet_argument(parser: argparse.ArgumentParser) -> None:
    """`--quiet` (see [`silenced`])."""
    add_option(parser, "quiet", action="store_true", help=QUIET_HELP)


def add_hub_arguments(parser: argparse.ArgumentParser, what: str = "the written folder") -> None:
    """
    The hub options of a command, `TrainingArguments`' four in kebab-case: `--push-to-hub` (a flag), `--hub-model-id`,
    `--hub-token`, `--hub-private-repo`. A failed push keeps the local result and exits `EXIT_PUSH_FAILED` (3).
    """
    group = parser.add_argument_group("Hugging Face Hub")
    add_option(
        group,
        "push_to_hub",
        action="store_true",
        help=f"At the end, push {what} to the Hub repo --hub-model-id (a failed push keeps it and exits 3).",
    )
    add_option(group, "hub_model_id", metavar="REPO_ID", help="The Hub repo, `namespace/name`.")
    add_option(group, "hub_token", metavar="TOKEN", help="Hub token with write access (default: the saved login).")
    add_option(group, "hub_private_repo", action="store_true", help="Create the Hub repo private (if it is new).")


def check_hub_arguments(args: argparse.Namespace) -> None:
    """Raises `ValueError` when `--push-to-hub` has no `--hub-model-id` (commands have no output name to derive one
    from, unlike the Trainer)."""
    if args.push_to_hub and not args.hub_model_id:
        raise ValueError("--push-to-hub needs --hub-model-id NAMESPACE/NAME.")


# Environment of the processes that a quiet command starts (DataLoader workers, accelerate launches).
QUIET_ENVIRONMENT = {
    "TQDM_DISABLE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "DATASETS_VERBOSITY": "error",
    "PYTHONWARNINGS": "ignore",
}


@contextlib.contextmanager
def silenced(enabled: bool = True) -> Iterator[None]:
    """
    What `--quiet` does, inside the block: only errors are shown. Log records below ERROR are dropped (the
    package's, transformers', datasets', accelerate's: `logging.disable`), transformers', datasets' and
    huggingface_hub's progress bars are off, Python warnings are ignored, and processes started inside get the same
    through `QUIET_ENVIRONMENT`. Everything is restored on exit, so that commands called in-process (tests) leave
    the caller as it was. Our own progress bars and summaries are the caller's to skip (`disable=args.quiet`).
    Does nothing when `enabled` is False.
    """
    if not enabled:
        yield
        return
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars
    from transformers.utils import logging as transformers_logging

    saved_environment = {name: os.environ.get(name) for name in QUIET_ENVIRONMENT}
    saved_disable = logging.root.manager.disable
    hub_bars_disabled = are_progress_bars_disabled()
    transformers_verbosity = transformers_logging.get_verbosity()
    transformers_bars = transformers_logging.is_progress_bar_enabled()
    datasets = sys.modules.get("datasets")  # not imported yet: the environment above applies when it is
    if datasets is not None:
        datasets_verbosity = datasets.logging.get_verbosity()
        datasets_bars_disabled = datasets.utils.are_progress_bars_disabled()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)
        os.environ.update(QUIET_ENVIRONMENT)
        disable_progress_bars()
        transformers_logging.set_verbosity_error()
        transformers_logging.disable_progress_bar()
        if datasets is not None:
            datasets.logging.set_verbosity_error()
            datasets.disable_progress_bars()
        try:
            yield
        finally:
            logging.disable(saved_disable)
            for name, value in saved_environment.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            if not hub_bars_disabled:
                enable_progress_bars()
            transformers_logging.set_verbosity(transformers_verbosity)
            if transformers_bars:
                transformers_logging.enable_progress_bar()
            if datasets is not None:
                datasets.logging.set_verbosity(datasets_verbosity)
                if not datasets_bars_disabled:
                    datasets.enable_progress_bars()


def quiet_training(training_args) -> None:
    """`--quiet` for a `TrainingArguments`: no progress bar and error-level Trainer logging (see [`quiet_trainer`])."""
    training_args.disable_tqdm = True
    training_args.log_level = training_args.log_level_replica = "error"


def quiet_trainer(trainer) -> None:
    """`--quiet` for a `Trainer`: without its progress bar it prints every log dict (`PrinterCallback`); drop it."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)


def run_training_script(
    parse_args: Callable[[Sequence[str] | None], tuple], train: Callable[..., int], argv: Sequence[str] | None = None
) -> int:
    """
    The `main` of a training example: `args, training_args = parse_args(argv)` (usage errors exit 2), then
    `train(args, training_args)`, under `--quiet` when `args.quiet` is set ([`silenced`], and [`quiet_training`] for
    the Trainer's own progress bar and logs); returns `train`'s exit status.
    """
    args, training_args = parse_args(argv)
    if args.quiet:
        quiet_training(training_args)
    with silenced(args.quiet):
        return train(args, training_args)


def parse_command_line(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """`parser.parse_args(argv)`, then one line on stderr per deprecated spelling used, unless `--quiet`."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FutureWarning)
        args = parser.parse_args(argv)
    if not getattr(args, "quiet", False):
        for warning in caught:
            print(f"{parser.prog}: warning: {warning.message}", file=sys.stderr)
    return args


def parse_dataclasses(parser, argv: Sequence[str] | None) -> tuple:
    """
    `parser.parse_args_into_dataclasses(argv)` (an `HfArgumentParser`) with every usage error exiting 2 with an
    argparse message, as plain argparse does: unknown options (for which `HfArgumentParser` raises a `ValueError`)
    and values that a dataclass's `__post_init__` refuses (for example `TrainingArguments`' own checks). Options
    must be spelled whole: argparse's prefix matching would take an old `--teacher` for `--teachers` (keeping only the
    last one) or `--output` for `--output_dir`.
    """
    parser.allow_abbrev = False
    try:
        *outputs, remaining = parser.parse_args_into_dataclasses(args=argv, return_remaining_strings=True)
    except (TypeError, ValueError) as err:  # raised by a dataclass's __post_init__
        parser.error(str(err))
    if remaining:
        parser.error(f"unrecognized arguments: {' '.join(remaining)}")
    return tuple(outputs)


__all__ = [
    "QUIET_HELP",
    "HelpFormatter",
    "add_hub_arguments",
    "add_option",
    "add_quiet_argument",
    "check_hub_arguments",
    "parse_command_line",
    "parse_dataclasses",
    "quiet_trainer",
    "quiet_training",
    "QUIET_ENVIRONMENT",
    "run_training_script",
    "silenced",
]
