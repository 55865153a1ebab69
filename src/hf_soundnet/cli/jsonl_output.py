"""The `--output-file` file of `soundnet classify`: JSON Lines that one run at a time owns, resumable after any stop.

Guarantees (see `soundnet classify --help`):
- One writer: a run holds an exclusive `flock` on `<output>.lock` from before it reads the output until it exits, so
  a second run on the same file is refused (exit 2, naming the holder) instead of appending to a copy that the
  other replaces. The file is only ever rewritten (temporary file + rename) by the run holding that lock.
- Nothing foreign is deleted: an existing file whose lines are not all records of this command is refused.
- No stale answers: each successful record carries the settings that produced it (`weights_sha256`, `top_k`,
  `precision`); a resume with other settings is refused, as `soundnet extract` refuses a folder extracted with other
  settings.
- A killed run (even `kill -9`) loses at most the records not yet written: each record is flushed as it is made,
  and a torn last line is dropped on resume.

- Several processes (`accelerate launch`): process 0 holds the lock for the run; each process appends to its own
  part `<output>.part-<rank>-of-<world_size>` ([`part_path`]) with the same guarantees, and process 0 merges the
  parts into the output at the end ([`merge_parts`]). Parts left by a stopped run are merged by the next run, with
  any number of processes, before it decides what is done ([`resume`]).

`fcntl.flock` is POSIX; where it is missing (Windows) runs are not locked against each other.
"""

import json
import os
import re
import socket
import time
from pathlib import Path

import torch

from ..inference.light_loading import state_dict_sha256
from .common import UsageError


try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

# The keys of a successful record that say how it was made; a resume must match them all.
SETTINGS_KEYS = ("weights_sha256", "top_k", "precision")


def weights_sha256(model: torch.nn.Module) -> str:
    """SHA-256 of the model's state dict (names, dtypes, shapes and bytes): the same weights from any path or Hub id;
    for a `FastSoundNet` built by `light_loading`, that of the checkpoint's tensors (the same digest)."""
    return getattr(model, "checkpoint_sha256", None) or state_dict_sha256(model.state_dict())


def check_output_path(output: Path) -> None:
    """Usage errors for an `--output-file` that cannot be written: a folder, a missing or unwritable folder or file."""
    if output.is_dir():
        raise UsageError(
            f"--output-file {output} is a folder; give a file path such as {output / 'predictions.jsonl'}."
        )
    parent = output.parent
    if not parent.is_dir():
        what = "is not a folder" if parent.exists() else "does not exist"
        raise UsageError(
            f"--output-file {output}: {parent} {what}; create the folder or choose another --output-file."
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(
            f"--output-file {output}: the folder {parent} is not writable (the run writes a lock file and may rewrite the "
            "output there); fix its permissions or choose another --output-file."
        )
    if output.exists() and not os.access(output, os.R_OK | os.W_OK):
        raise UsageError(
            f"--output-file {output} is not readable and writable; fix its permissions or choose another."
        )


class OutputLock:
    """
    An exclusive `flock` on `<output>.lock` for as long as the `with` block runs; a second holder is refused with a
    `UsageError` naming the file and the holder (pid, host, start time). The lock file is removed on exit; a lock
    file left by a killed run holds no lock and is taken over.
    """

    def __init__(self, output: Path, command: str = "soundnet classify"):
        self.output = output
        self.path = output.with_name(output.name + ".lock")
        self.command = command
        self.fd: int | None = None

    def __enter__(self) -> "OutputLock":
        if fcntl is None:  # pragma: no cover - Windows
            return self
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as err:
                raise UsageError(
                    f"cannot create the lock file {self.path} for --output-file {self.output}: {err}"
                ) from err
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
                os.close(fd)
                raise UsageError(
                    f"{self.output} is being written by another run ({holder}, lock {self.path}); wait for it to "
                    "finish or choose another --output-file."
                ) from None
            # The holder before us may have removed the lock file after we opened it: then our lock is on a
            # deleted file, so take the lock on the file now at the path instead.
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        started = time.strftime("%Y-%m-%d %H:%M:%S")
        os.write(fd, f"{self.command}, pid {os.getpid()} on {socket.gethostname()}, since {started}\n".encode())
        self.fd = fd
        return self

    def __exit__(self, *exc_info) -> None:
        if self.fd is not None:
            self.path.unlink(missing_ok=True)  # while still holding the lock: see the inode check above
            os.close(self.fd)
            self.fd = None


def is_classify_record(record: object) -> bool:
    """A line written by `soundnet classify`: a result (`path`, `objects`, `scenes`) or a failure (`path`, `error`)."""
    return (
        isinstance(record, dict)
        and isinstance(record.get("path"), str)
        and ("error" in record or ("objects" in record and "scenes" in record))
    )


def read_records(output: Path) -> tuple[list[tuple[str, dict]], bool]:
    """
    `(lines, torn)`: the `(line, record)` pairs of `output` (none when it does not exist) and whether its last line
    was torn by a killed run (dropped). Any other line that is not a record of this command is a `UsageError`: the
    file is someone else's and rewriting it would lose their lines.
    """
    if not output.exists():
        return [], False
    try:
        text = output.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(
            f"--output-file {output} cannot be read as JSON Lines ({err}); choose another --output-file."
        ) from err
    lines = text.splitlines()
    pairs, torn = [], False
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            record = None
        if is_classify_record(record):
            pairs.append((line, record))
        elif number == len(lines) and not text.endswith("\n"):
            torn = True  # a killed run's half-written last line
        else:
            raise UsageError(
                f"--output-file {output} already holds data that is not `soundnet classify` output (line {number}: "
                f"{line[:80]!r}); refusing to rewrite it. Choose another --output-file, or delete the file."
            )
    return pairs, torn


def part_path(output: Path, rank: int, world_size: int) -> Path:
    """The part of `output` that process `rank` of `world_size` appends to: `<output>.part-<rank>-of-<world_size>`."""
    return output.with_name(f"{output.name}.part-{rank}-of-{world_size}")


def part_paths(output: Path) -> list[Path]:
    """The parts of `output` on disk, of any number of processes (left by a run that stopped before merging them),
    sorted by name."""
    pattern = re.compile(re.escape(output.name) + r"\.part-\d+-of-\d+")
    if not output.parent.is_dir():
        return []
    return sorted(p for p in output.parent.iterdir() if pattern.fullmatch(p.name) and p.is_file())


def rewrite(output: Path, lines: list[str]) -> None:
    """Replaces `output` by `lines` atomically (temporary file, then rename), keeping its permissions."""
    temporary = output.with_name(output.name + ".tmp")
    temporary.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    if output.exists():
        os.chmod(temporary, output.stat().st_mode & 0o7777)
    temporary.replace(output)


def resume(output: Path, settings: dict, parts: list[Path] | None = None) -> set[str]:
    """
    Absolute paths that already have a successful record made with `settings` in `output` or in its `parts` (those
    of a multi-process run that stopped before merging them; merged into `output` here and then deleted). Error
    lines and a torn last line are removed (rewrite under the caller's `OutputLock`), so failed files are retried and
    the file keeps one line per file. A successful record made with other settings is a `UsageError`.
    """
    pairs, torn = read_records(output)
    parts = parts or []
    for part in parts:
        part_pairs, part_torn = read_records(part)
        pairs, torn = pairs + part_pairs, torn or part_torn
    kept, done = [], set()
    for line, record in pairs:
        if "error" in record:
            continue
        previous = {key: record.get(key) for key in SETTINGS_KEYS}
        if previous != {key: settings[key] for key in SETTINGS_KEYS}:
            changed = {key: (previous[key], settings[key]) for key in SETTINGS_KEYS if previous[key] != settings[key]}
            raise UsageError(
                f"--output-file {output} holds records made with other settings {changed} (old, new) for "
                f"{record['path']}; choose another --output-file, run with the same model and options to resume, or "
                "delete the file to start again."
            )
        path = os.path.abspath(record["path"])
        if path not in done:
            kept.append(line)
            done.add(path)
    if torn or len(kept) < len(pairs) or parts:
        rewrite(output, kept)
    for part in parts:
        part.unlink()
    return done


def merge_parts(output: Path, parts: list[Path], order: dict[str, int]) -> None:
    """
    Appends the records of `parts` (written by the processes of one run) to `output`, ordered by `order` (absolute
    path -> position; records of other paths last, in part order), then deletes the parts. `output` is replaced
    atomically, so a run killed while merging leaves the output and the parts as they were, or the merged output
    and parts that the next run's [`resume`] merges again (dropping the duplicates).
    """
    existing, _ = read_records(output)
    records = []
    for part in parts:
        part_pairs, _ = read_records(part)
        records += part_pairs
    last = len(order)
    records.sort(key=lambda pair: order.get(os.path.abspath(pair[1]["path"]), last))  # stable: ties keep part order
    rewrite(output, [line for line, _ in existing] + [line for line, _ in records])
    for part in parts:
        part.unlink()


__all__ = [
    "OutputLock",
    "SETTINGS_KEYS",
    "check_output_path",
    "is_classify_record",
    "merge_parts",
    "part_path",
    "part_paths",
    "read_records",
    "rewrite",
    "resume",
    "weights_sha256",
]
