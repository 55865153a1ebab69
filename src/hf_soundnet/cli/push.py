"""Push a saved SoundNet checkpoint folder to a Hugging Face Hub model repo.

For a folder that is already written, e.g. by `soundnet convert` or a training run whose push failed: it must hold
config.json, the weights and preprocessor_config.json (else nothing is pushed and the exit status is 2). The repo is
created if needed; pushing an unchanged folder again makes no new commit. The Hub endpoint is huggingface_hub's
(`HF_ENDPOINT`); the token is --hub-token, else the saved login (`hf auth login`) or HF_TOKEN.

Exit status: 0 pushed, 2 usage error (bad option, or an incomplete folder), 3 the push failed (the folder is left as
it was; push it again later).

Example:
    soundnet push soundnet8 user/soundnet8 [--hub-private-repo] [--hub-token TOKEN]
"""

import argparse
import sys
from pathlib import Path

from ..exit_status import EXIT_OK, EXIT_PUSH_FAILED
from ..hub import DEFAULT_COMMIT_MESSAGE, HubPushError, check_checkpoint_folder, push_checkpoint
from .common import UsageError
from .options import add_option, add_quiet_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", type=Path, help="A saved SoundNet checkpoint (config, weights, preprocessor).")
    parser.add_argument("repo_id", metavar="HUB_MODEL_ID", help="Target model repo, `namespace/name`.")
    add_option(
        parser,
        "hub_private_repo",
        action="store_true",
        deprecated=["--private"],
        help="Create the repo private (when it does not exist).",
    )
    add_option(
        parser,
        "hub_token",
        deprecated=["--token"],
        help="Hub token with write access (default: the saved login or HF_TOKEN).",
    )
    add_option(parser, "commit_message", default=DEFAULT_COMMIT_MESSAGE, help="(default: %(default)s)")
    add_quiet_argument(parser)


def run(args: argparse.Namespace) -> int:
    """`soundnet push` once its options are parsed; the exit status."""
    try:
        check_checkpoint_folder(args.folder)
    except HubPushError as err:
        raise UsageError(str(err)) from err
    try:
        info = push_checkpoint(
            args.folder,
            args.repo_id,
            token=args.hub_token,
            private=args.hub_private_repo,
            commit_message=args.commit_message,
        )
    except HubPushError as err:
        print(f"soundnet push: error: {err}", file=sys.stderr)
        return EXIT_PUSH_FAILED
    if not args.quiet:
        print(f"Pushed {args.folder} to {args.repo_id}: {info.commit_url}")
    return EXIT_OK
