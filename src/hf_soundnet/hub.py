"""Publishing SoundNet checkpoints on the Hugging Face Hub: model cards from templates, and one idempotent push.

Everything goes through huggingface_hub (`create_repo(exist_ok=True)`, `upload_folder`, `ModelCard`); the Hub
endpoint is huggingface_hub's (`HF_ENDPOINT`, read when huggingface_hub is first imported). Pushing the same folder
twice uploads nothing the second time: the Hub's preupload answer carries each stored file's oid, huggingface_hub
drops unchanged files and skips a commit that would be empty.

The command line is `soundnet push FOLDER REPO_ID` (`hf_soundnet.cli.push`), for a folder that is already written;
commands and training scripts that write a folder push it at their end with [`publish_trained_model`] (training
scripts through [`defer_push_to_hub`] and [`publish_training_output`]).
"""

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from huggingface_hub import CommitInfo, ModelCard, ModelCardData, create_repo, upload_folder
from huggingface_hub.utils import HfHubHTTPError

from .errors import SoundNetError
from .exit_status import EXIT_OK, EXIT_PUSH_FAILED


if TYPE_CHECKING:
    from transformers import TrainingArguments


# Files a folder must hold to be worth pushing, and what the loaders need for each.
REQUIRED_FILES = {
    "config.json": "AutoConfig / every model class",
    "preprocessor_config.json": "AutoFeatureExtractor and the pipeline",
}
WEIGHTS_FILES = ("model.safetensors", "model.safetensors.index.json")
# The HTTP client's error base (httpx's, which huggingface_hub 2.x vendors as `httpx2`), found through
# HfHubHTTPError's bases so connection failures are caught without importing the client library by name.
_CLIENT_HTTP_ERROR = next((base for base in HfHubHTTPError.__mro__[1:] if base.__name__ == "HTTPError"), OSError)
DEFAULT_COMMIT_MESSAGE = "Upload SoundNet checkpoint"
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
    elif "custom_pipelines" not in config:
        print(
            f"warning: {folder}/config.json declares no custom_pipelines: where hf_soundnet is not installed, "
            "pipeline(..., trust_remote_code=True) will be transformers' own AudioClassificationPipeline (ffmpeg "
            "decoding, channels averaged). Save it again with hf_soundnet imported to include the SoundNet pipeline.",
            file=sys.stderr,
        )
    return folder


def push_checkpoint(
    folder: str | Path,
    repo_id: str,
    token: str | None = None,
    private: bool = False,
    commit_message: str = DEFAULT_COMMIT_MESSAGE,
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
            "your token (--hub-token, or the login saved by `hf auth login`) has write access."
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
    commit_message: str = DEFAULT_COMMIT_MESSAGE,
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
            f"`soundnet push {folder} {repo_id}`.",
            file=sys.stderr,
        )
        return EXIT_PUSH_FAILED
    print(f"{program}: pushed {folder} to {repo_id}: {info.commit_url}", file=sys.stderr)
    return EXIT_OK


def defer_push_to_hub(training_args: "TrainingArguments") -> str | None:
    """
    Takes `--push_to_hub` away from the Trainer of a training script: the script pushes the final model once, after
    saving it, with [`publish_training_output`], so that an unreachable Hub never stops training and a failed push
    exits 3 with the local model intact. Sets `training_args.push_to_hub` to False.

    Returns:
        `str` or `None`: the repo to push to, `--hub_model_id` or else the name of `--output_dir` (the Trainer's own
            default), or None when the command line did not ask for a push.
    """
    if not training_args.push_to_hub:
        return None
    training_args.push_to_hub = False
    return training_args.hub_model_id or Path(training_args.output_dir).absolute().name


def publish_training_output(
    training_args: "TrainingArguments", repo_id: str, card: ModelCard | None = None, program: str = "hf_soundnet"
) -> int:
    """
    [`publish_trained_model`] of a training script's `--output_dir` to `repo_id` (from [`defer_push_to_hub`]), with
    the token and privacy of its `TrainingArguments` (`--hub_token`, `--hub_private_repo`).

    Returns:
        `int`: `EXIT_OK` (0) when pushed, `EXIT_PUSH_FAILED` (3) when the push failed.
    """
    return publish_trained_model(
        training_args.output_dir,
        repo_id,
        card=card,
        token=training_args.hub_token,
        private=bool(training_args.hub_private_repo),
        program=program,
    )


__all__ = [
    "DEFAULT_COMMIT_MESSAGE",
    "HubPushError",
    "check_checkpoint_folder",
    "defer_push_to_hub",
    "publish_trained_model",
    "publish_training_output",
    "push_checkpoint",
    "render_model_card",
]
