"""Publishing SoundNet checkpoints on the Hugging Face Hub: model cards from templates, and one idempotent push.

Everything goes through huggingface_hub (`create_repo(exist_ok=True)`, `upload_folder`, `ModelCard`); the Hub
endpoint is huggingface_hub's (`HF_ENDPOINT`, read when huggingface_hub is first imported). Pushing the same folder
twice uploads nothing the second time: the Hub's preupload answer carries each stored file's oid, huggingface_hub
drops unchanged files and skips a commit that would be empty.

Command line (for a folder that is already written, e.g. by the converter or a training run):
    python -m hf_soundnet.hub FOLDER REPO_ID [--hub-private-repo] [--hub-token TOKEN] [--quiet]
Exit status as every command's (`hf_soundnet.cli`): 0 pushed, 2 usage error (an incomplete folder), 3 the push failed.
"""

import argparse
import json
import sys
from pathlib import Path

from huggingface_hub import CommitInfo, ModelCard, ModelCardData, create_repo, upload_folder
from huggingface_hub.utils import HfHubHTTPError

from .cli.options import add_option, add_quiet_argument, parse_command_line, silenced
from .errors import SoundNetError
from .exit_status import EXIT_OK, EXIT_PUSH_FAILED, EXIT_USAGE


# Files a folder must hold to be worth pushing, and what the loaders need for each.
REQUIRED_FILES = {
    "config.json": "AutoConfig / every model class",
    "preprocessor_config.json": "AutoFeatureExtractor and the pipeline",
}
WEIGHTS_FILES = ("model.safetensors", "model.safetensors.index.json")
# The HTTP client's error base (httpx's, which huggingface_hub 2.x vendors as `httpx2`), found through
# HfHubHTTPError's bases so connection failures are caught without importing the client library by name.
_CLIENT_HTTP_ERROR = next((base for base in HfHubHTTPError.__mro__[1:] if base.__name__ == "HTTPError"), OSError)
# Training leftovers that never belong in a published model repo.
IGNORE_PATTERNS = ["checkpoint-*/**", "runs/**", "*.pt", "optimizer.*", "scheduler.*", "rng_state*", ".git*"]


class HubPushError(SoundNetError, RuntimeError):
    """A push that did not complete; the message names the folder, the repo and the endpoint."""


def render_model_card(template: str | Path, **values) -> ModelCard:
    """
    Renders a `model_cards/*.md` template (Jinja2, YAML front matter) with `values` and checks its metadata.

    Args:
        template (`str` or `Path`): path of the template.
        **values: template variables (for example `repo_id`, `verification_error`).

    Returns:
        `ModelCard`: the rendered card; `card.data` holds the parsed front matter.

    Raises:
        `ValueError`: the template is missing, or the rendered front matter lacks `license`, `pipeline_tag` or
            `library_name`.
    """
    path = Path(template)
    if not path.is_file():
        raise ValueError(f"{path}: no such model card template.")
    card = ModelCard.from_template(ModelCardData(), template_path=str(path), **values)
    missing = [field for field in ("license", "pipeline_tag", "library_name") if not getattr(card.data, field, None)]
    if missing:
        raise ValueError(f"{path}: the rendered model card has no {', '.join(missing)} in its YAML front matter.")
    return card


def check_checkpoint_folder(folder: str | Path) -> Path:
    """Raises `HubPushError` unless `folder` holds a config, weights and a preprocessor config; returns it."""
    folder = Path(folder)
    if not folder.is_dir():
        raise HubPushError(f"{folder}: no such checkpoint folder.")
    missing = [f"{name} ({use})" for name, use in REQUIRED_FILES.items() if not (folder / name).is_file()]
    if not any((folder / name).is_file() for name in WEIGHTS_FILES):
        missing.append(f"{WEIGHTS_FILES[0]} (the weights)")
    if missing:
        raise HubPushError(f"{folder} is not a complete checkpoint: missing {', '.join(missing)}.")
    config = json.loads((folder / "config.json").read_text())
    if "auto_map" not in config:
        print(
            f"warning: {folder}/config.json has no auto_map: the checkpoint will load only where hf_soundnet is "
            "installed. Save it with hf_soundnet imported to include the code.",
            file=sys.stderr,
        )
    return folder


def push_checkpoint(
    folder: str | Path,
    repo_id: str,
    token: str | None = None,
    private: bool = False,
    commit_message: str = "Upload SoundNet checkpoint",
    revision: str | None = None,
) -> CommitInfo:
    """
    Creates `repo_id` if needed and uploads `folder` (config, weights, preprocessor config, code, card, categories).

    Re-pushing an unchanged folder makes no new commit. The local folder is only read, so a failed push leaves it
    intact.

    Returns:
        `CommitInfo`: the commit now at the head of the branch (`.oid`, `.commit_url`).

    Raises:
        `HubPushError`: the folder is incomplete, or the Hub refused or could not be reached; the message says
            which repo, which endpoint and what went wrong.
    """
    from huggingface_hub import constants

    folder = check_checkpoint_folder(folder)
    where = f"{repo_id!r} at {constants.ENDPOINT}"
    try:
        create_repo(repo_id, token=token, private=private, exist_ok=True)
        return upload_folder(
            repo_id=repo_id,
            folder_path=folder,
            commit_message=commit_message,
            token=token,
            revision=revision,
            ignore_patterns=IGNORE_PATTERNS,
        )
    except HfHubHTTPError as err:
        status = err.response.status_code if err.response is not None else "?"
        raise HubPushError(
            f"The Hub refused the push of {folder} to {where} (HTTP {status}): {err}. Check the repo id and that "
            "your token (--token or `hf auth login`) has write access."
        ) from err
    except _CLIENT_HTTP_ERROR as err:
        raise HubPushError(
            f"Could not reach the Hub to push {folder} to {where}: {type(err).__name__}: {err}. Check your network "
            "and HF_ENDPOINT, then push the folder again."
        ) from err
    except (OSError, ValueError) as err:
        raise HubPushError(f"Pushing {folder} to {where} failed: {err}") from err


def publish_trained_model(
    folder: str | Path,
    repo_id: str,
    card: ModelCard | None = None,
    token: str | None = None,
    private: bool = False,
    program: str = "hf_soundnet",
    commit_message: str = "Upload SoundNet checkpoint",
) -> int:
    """
    The end of a command's `--push-to-hub` (converter, pre-training, fine-tuning): writes `card` as the folder's
    README.md, pushes the folder to `repo_id` with [`push_checkpoint`], and reports on stderr.

    Returns:
        `int`: an exit status, `EXIT_OK` (0) when pushed, `EXIT_PUSH_FAILED` (3) when the push failed (the local
            folder is complete and untouched, and the message says how to push it again).
    """
    if card is not None:
        card.save(Path(folder) / "README.md")
    try:
        info = push_checkpoint(folder, repo_id, token=token, private=private, commit_message=commit_message)
    except HubPushError as err:
        print(f"{program}: error: {err}", file=sys.stderr)
        print(
            f"{program}: the checkpoint in {folder} is complete; push it later with "
            f"`python -m hf_soundnet.hub {folder} {repo_id}`.",
            file=sys.stderr,
        )
        return EXIT_PUSH_FAILED
    print(f"{program}: pushed {folder} to {repo_id}: {info.commit_url}", file=sys.stderr)
    return EXIT_OK


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m hf_soundnet.hub",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
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
    add_option(parser, "commit_message", default="Upload SoundNet checkpoint", help="(default: %(default)s)")
    add_quiet_argument(parser)
    return parse_command_line(parser, argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with silenced(args.quiet):
        return push(args)


def push(args: argparse.Namespace) -> int:
    """`python -m hf_soundnet.hub` once its options are parsed; the exit status."""
    try:
        check_checkpoint_folder(args.folder)
    except HubPushError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    try:
        info = push_checkpoint(args.folder, args.repo_id, args.hub_token, args.hub_private_repo, args.commit_message)
    except HubPushError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_PUSH_FAILED
    if not args.quiet:
        print(f"Pushed {args.folder} to {args.repo_id}: {info.commit_url}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["HubPushError", "check_checkpoint_folder", "publish_trained_model", "push_checkpoint", "render_model_card"]
