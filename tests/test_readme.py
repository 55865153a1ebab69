"""Every ```python block of README.md runs verbatim, each in a fresh interpreter.

The working folder is a temporary `work/` beside a `shared` link, so that the README's relative paths resolve as in
the repository: `soundnet8` (the converted checkpoint) and `../shared/audio/...` (the shared recordings). A block that
cannot run offline is marked in the README by an HTML comment `<!-- no-test: reason -->` on the line before its fence;
it is reported as skipped with that reason, never silently dropped.
"""

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import REPO_ROOT, checkpoint_dir, shared_dir


README = REPO_ROOT / "README.md"
NO_TEST = re.compile(r"<!--\s*no-test:\s*(.+?)\s*-->")


@dataclass(frozen=True)
class CodeBlock:
    line: int  # 1-based line of the opening fence
    code: str
    skip_reason: str | None


def python_blocks(text: str) -> list[CodeBlock]:
    """The ```python blocks of a Markdown text, with the `no-test` reason of the line before each, if any."""
    lines = text.splitlines()
    blocks, index = [], 0
    while index < len(lines):
        if lines[index].strip() == "```python":
            start = index
            index += 1
            body = []
            while index < len(lines) and lines[index].strip() != "```":
                body.append(lines[index])
                index += 1
            previous = lines[start - 1] if start > 0 else ""
            match = NO_TEST.search(previous)
            blocks.append(CodeBlock(start + 1, "\n".join(body) + "\n", match.group(1) if match else None))
        index += 1
    return blocks


BLOCKS = python_blocks(README.read_text(encoding="utf-8"))


def test_the_readme_has_python_blocks_and_names_what_it_skips():
    assert len(BLOCKS) >= 4
    skipped = [(block.line, block.skip_reason) for block in BLOCKS if block.skip_reason]
    # The list is printed with `pytest -rs` through the skips below; here it must be explicit, never a guess.
    for line, reason in skipped:
        assert reason.strip(), f"README.md:{line}: a no-test mark needs a reason"


def test_python_blocks_parse():
    for block in BLOCKS:
        compile(block.code, f"README.md:{block.line}", "exec")


@pytest.fixture(scope="module")
def readme_cwd(tmp_path_factory) -> Path:
    checkpoint, shared = checkpoint_dir(), shared_dir()
    if not (checkpoint / "config.json").is_file():
        pytest.skip(f"converted weights not found at {checkpoint}: run `make test`")
    if not (shared / "audio").is_dir():
        pytest.skip(f"shared recordings not found at {shared}")
    root = tmp_path_factory.mktemp("readme")
    (root / "shared").symlink_to(shared.resolve(), target_is_directory=True)
    work = root / "work"
    work.mkdir()
    (work / "soundnet8").symlink_to(checkpoint.resolve(), target_is_directory=True)
    return work


@pytest.mark.parametrize("block", BLOCKS, ids=[f"line{block.line}" for block in BLOCKS])
def test_readme_block_runs_verbatim(block, readme_cwd):
    if block.skip_reason:
        pytest.skip(f"README.md:{block.line} marked no-test: {block.skip_reason}")
    environment = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    result = subprocess.run(
        [sys.executable, "-c", block.code],
        cwd=readme_cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"README.md:{block.line} failed:\n{block.code}\n{result.stderr[-3000:]}"


def test_layout_section_names_every_module():
    """The README's layout (the data-flow picture and the table under it) names every module of the package by its
    file name, so it cannot fall behind the tree (the local evaluate modules are named by their folder, `metrics/`)."""
    text = README.read_text(encoding="utf-8")
    start = text.index("## Layout")
    layout = text[start : text.index("\n## ", start + 1)]
    package = REPO_ROOT / "src" / "hf_soundnet"
    modules = [
        path.relative_to(package).as_posix()
        for path in sorted(package.rglob("*.py"))
        if path.name not in ("__init__.py", "__main__.py") and "metrics" not in path.relative_to(package).parts
    ]
    missing = [module for module in modules if module.rsplit("/", 1)[-1] not in layout]
    assert "metrics/" in layout
    assert not missing, f"README's Layout section does not name {missing}"
