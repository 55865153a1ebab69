"""Written files get the modes the user's umask asks for.

safetensors' `save_file` (Rust) writes through a temporary file that it creates mode 0600 and renames into place, and
`tempfile` makes 0600 files and 0700 folders, so a checkpoint folder on a shared disk would be unreadable by the
other users the umask lets in. `apply_umask` gives files `0o666 & ~umask` and folders `0o777 & ~umask`, what `open`
and `mkdir` would have given them.
"""

import os
from pathlib import Path


def current_umask() -> int:
    """The process umask (read from /proc on Linux, so no thread ever sees it changed; else set and restored)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def apply_umask(path: str | Path) -> None:
    """Sets `path` (and, for a folder, everything below it) to the modes the umask gives new files and folders."""
    mask = current_umask()
    path = Path(path)
    for item in [path, *path.rglob("*")] if path.is_dir() else [path]:
        if item.is_symlink():
            continue
        os.chmod(item, (0o777 if item.is_dir() else 0o666) & ~mask)


__all__ = ["apply_umask", "current_umask"]
