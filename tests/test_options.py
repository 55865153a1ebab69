"""One dialect: every front door (the `soundnet` subcommands, the examples) takes the
same spelling for the same thing, in kebab-case and snake_case, exits 0 for --help and 2 for a usage error, and
`soundnet --version` prints the package version. Parsers are called in-process (no subprocesses)."""

import importlib.util
import sys
from pathlib import Path

import pytest

import hf_soundnet
from hf_soundnet.cli import build_parser, main
from hf_soundnet.cli.common import EXIT_FAILED_FILES, EXIT_OK, EXIT_PUSH_FAILED, EXIT_USAGE
from hf_soundnet.cli.options import parse_command_line


REPO_ROOT = Path(__file__).resolve().parent.parent


def load_example(name: str):
    """An example script as a module (its `parse_args` and `main`), loaded once."""
    module_name = f"soundnet_example_{name}"
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, REPO_ROOT / "examples" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return sys.modules[module_name]


def namespace_of(parsed) -> dict:
    """The parsed values of any front door as one dict (examples return several dataclasses)."""
    parts = parsed if isinstance(parsed, tuple) else (parsed,)
    values = {}
    for part in parts:
        if not isinstance(part, list):  # demo's list of paths
            values.update(vars(part))
    return values


def soundnet(command: str):
    return lambda argv: build_parser().parse_args([command, *argv])


def example(name: str):
    return lambda argv: load_example(name).parse_args(argv)


# front door -> (parse function, arguments that make a valid command line, the shared options it takes)
FRONT_DOORS = {
    "soundnet classify": (soundnet("classify"), ["x.wav"], ["output_file", "use_cpu", "num_workers", "quiet"]),
    "soundnet extract": (
        soundnet("extract"),
        ["x.wav", "--layer", "pool5", "--output-dir", "out"],
        ["output_dir", "use_cpu", "num_workers", "quiet"],
    ),
    "soundnet push": (soundnet("push"), ["folder", "user/repo"], ["hub_token", "hub_private_repo", "quiet"]),
    "build_corpus": (
        example("build_corpus"),
        ["--videos", "v", "--output_dir", "out", "--teachers", "objects=a", "scenes=b"],
        ["output_dir", "use_cpu", "quiet"],
    ),
    "pretrain": (
        example("pretrain"),
        ["--corpus", "c", "--max_steps", "2"],
        ["output_dir", "use_cpu", "dataloader_num_workers", "seed", "quiet", *["push_to_hub", "hub_model_id"]],
    ),
    "finetune": (
        example("finetune"),
        ["--data", "d"],
        ["output_dir", "use_cpu", "num_workers", "dataloader_num_workers", "seed", "quiet", "push_to_hub"],
    ),
    "linear_probe": (example("linear_probe"), ["--data", "d"], ["output_file", "use_cpu", "num_workers", "quiet"]),
    "demo": (example("demo"), ["x.wav"], ["use_cpu", "quiet"]),
    "zero_shot_eval": (
        example("zero_shot_eval"),
        ["--data", "d", "--model", "m"],
        ["output_file", "use_cpu", "quiet"],
    ),
}
# A value for each shared option, and what the parsed field must then hold (flags take no value).
SHARED_VALUES = {
    "output_dir": ("some_dir", lambda v: str(v) == "some_dir"),
    "output_file": ("out.jsonl", lambda v: str(v) == "out.jsonl"),
    "use_cpu": (None, lambda v: v is True),
    "num_workers": ("3", lambda v: v == 3),
    "dataloader_num_workers": ("3", lambda v: v == 3),
    "seed": ("7", lambda v: v == 7),
    "quiet": (None, lambda v: v is True),
    "push_to_hub": (None, lambda v: v is True),
    "hub_model_id": ("user/model", lambda v: v == "user/model"),
    "hub_token": ("hf_x", lambda v: v == "hf_x"),
    "hub_private_repo": (None, lambda v: v is True),
}


@pytest.mark.parametrize("door", FRONT_DOORS)
def test_front_door_speaks_the_dialect(door, capsys):
    parse, valid, shared = FRONT_DOORS[door]
    # --help: exit status 0, and the shared options are listed in kebab-case and snake_case.
    with pytest.raises(SystemExit) as exit_:
        parse(["--help"])
    assert exit_.value.code == 0
    listed = capsys.readouterr().out
    for option in shared:
        assert f"--{option}" in listed and f"--{option.replace('_', '-')}" in listed, option

    # Each shared option is accepted under both spellings, with the same meaning.
    for option in shared:
        value, holds = SHARED_VALUES[option]
        for spelling in (f"--{option}", f"--{option.replace('_', '-')}"):
            argv = [*valid, spelling] + ([value] if value is not None else [])
            parsed = namespace_of(parse(argv))
            assert holds(parsed[option]), (spelling, parsed[option])

    # Usage errors exit 2: an unknown option (HfArgumentParser raises ValueError for those) and a bad value.
    for bad in (["--no-such-option"], ["--no_such_option", "1"]):
        with pytest.raises(SystemExit) as exit_:
            parse([*valid, *bad])
        assert exit_.value.code == EXIT_USAGE, bad
        assert "unrecognized arguments" in capsys.readouterr().err
    if "num_workers" in shared:
        with pytest.raises(SystemExit) as exit_:
            parse([*valid, "--num-workers", "many"])
        assert exit_.value.code == EXIT_USAGE


def test_soundnet_main_exit_statuses_and_version(capsys):
    assert main(["--version"]) == EXIT_OK
    assert capsys.readouterr().out.strip() == f"soundnet {hf_soundnet.__version__}"
    assert main(["--help"]) == EXIT_OK and "Exit status" in capsys.readouterr().out
    assert main(["classify", "x.wav", "--no-such-option"]) == EXIT_USAGE
    assert main(["frobnicate"]) == EXIT_USAGE
    assert (EXIT_OK, EXIT_FAILED_FILES, EXIT_USAGE, EXIT_PUSH_FAILED) == (0, 1, 2, 3)


def test_soundnet_is_the_one_front_door(capsys, tmp_path):
    """`soundnet --help` lists every command; `soundnet push` refuses an incomplete folder as a usage error before any
    network access."""
    assert main(["--help"]) == EXIT_OK
    listed = capsys.readouterr().out
    for command in ("classify", "extract", "convert", "push"):
        assert f"    {command} " in listed, command
    (tmp_path / "config.json").write_text("{}")
    assert main(["push", str(tmp_path), "user/repo"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "soundnet push: error:" in err and "preprocessor_config.json" in err and "model.safetensors" in err


def test_version_is_written_once():
    """pyproject.toml takes the version from `__version__` (hatch's dynamic version), so the two cannot drift."""
    import tomllib

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["hatch"]["version"]["path"] == "src/hf_soundnet/__init__.py"
    metadata = pytest.importorskip("hatchling.metadata.core")
    plugins = pytest.importorskip("hatchling.plugin.manager")
    assert metadata.ProjectMetadata(str(REPO_ROOT), plugins.PluginManager()).version == hf_soundnet.__version__


def test_deprecated_spellings_warn_and_keep_working(capsys, tmp_path):
    args = build_parser().parse_args(["classify", "x.wav", "--output", "a.jsonl", "--device", "cpu"])
    assert str(args.output_file) == "a.jsonl" and args.use_cpu is True
    args = build_parser().parse_args(["extract", "x.wav", "--layer", "conv1", "--output", "feats"])
    assert str(args.output_dir) == "feats"
    args = parse_command_line(build_parser(), ["push", "folder", "user/repo", "--private", "--token", "hf_x"])
    assert args.hub_private_repo is True and args.hub_token == "hf_x"
    assert "--private is deprecated" in capsys.readouterr().err
    # Through `main`, the warning names the new spelling (and --quiet drops it).
    no_model = ["classify", "x.wav", "--model", str(tmp_path / "no_model"), "--device", "cuda"]
    assert main(no_model) == EXIT_USAGE
    assert "use --use-cpu" in capsys.readouterr().err
    assert main([*no_model, "--quiet"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "is deprecated" not in err and "no such checkpoint" in err  # errors are still shown


def test_training_scripts_take_training_arguments_names():
    """finetune and pretrain parse `TrainingArguments` itself: a bare --push_to_hub (or --push-to-hub) is the flag,
    with --hub_model_id; pretrain's defaults are the paper's; the old names are usage errors."""
    for spelling in ("--push_to_hub", "--push-to-hub"):
        args, training_args = load_example("finetune").parse_args(["--data", "d", spelling, "--hub_model_id", "u/m"])
        assert training_args.push_to_hub is True and training_args.hub_model_id == "u/m"
    args, training_args = load_example("pretrain").parse_args(["--corpus", "c", "--max_steps", "5"])
    assert (training_args.learning_rate, training_args.per_device_train_batch_size) == (1e-3, 64)
    assert (training_args.lr_scheduler_type.value, training_args.dataloader_num_workers) == ("constant", 2)
    for script, argv in (
        ("finetune", ["--data", "d", "--decode_workers", "2"]),
        ("pretrain", ["--corpus", "c", "--max_steps", "5", "--batch-size", "4"]),
        ("pretrain", ["--corpus", "c"]),  # no --max_steps: a streamed corpus has no length
        ("build_corpus", ["--videos", "v", "--output_dir", "o", "--teachers", "a", "--cpu"]),
    ):
        with pytest.raises(SystemExit) as exit_:
            load_example(script).parse_args(argv)
        assert exit_.value.code == EXIT_USAGE, (script, argv)


def test_hub_arguments_of_a_command():
    """`add_hub_arguments`: TrainingArguments' four hub options in the command's kebab-case (snake_case accepted),
    for subcommands that push (the converter)."""
    import argparse

    from hf_soundnet.cli.options import add_hub_arguments, check_hub_arguments

    parser = argparse.ArgumentParser()
    add_hub_arguments(parser)
    args = parser.parse_args(["--push-to-hub", "--hub-model-id", "u/m", "--hub_token", "t", "--hub-private-repo"])
    assert (args.push_to_hub, args.hub_model_id, args.hub_token, args.hub_private_repo) == (True, "u/m", "t", True)
    check_hub_arguments(args)
    with pytest.raises(ValueError, match="--hub-model-id"):
        check_hub_arguments(parser.parse_args(["--push_to_hub"]))
    assert parser.parse_args([]).push_to_hub is False
