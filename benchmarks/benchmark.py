"""SoundNet throughput on this machine: everything measured side by side in one run, reported as a markdown table.

Sections (ratios are against baselines measured in the same run):
  (a) end-to-end classification of a folder of 30 s 44.1 kHz stereo MP3s (128 by default, about an hour): a naive
      per-file loop (librosa load at 22,050 Hz, eager forward under `torch.inference_mode`), in this process and as
      a script (start-up included), transformers' `pipeline("audio-classification")` with file paths (one at a time,
      and with `batch_size`/`num_workers`), the shipped
      `classify_files` in this process (DataLoader workers decoding with torchcodec + `FastSoundNet`), and the
      `soundnet classify` CLI (a subprocess, start-up included, and its own after-start-up rate);
  (b) model forward: eager `SoundNetForPreTraining` (Conv-BN-ReLU-pool stack and heads) vs `FastSoundNet`, audio s/s,
      GFLOP/s (`hf_soundnet.inference.flops.forward_flops`) and share of the fp32 peak (estimated from lscpu, and
      measured as a large matmul's GFLOP/s: "attainable"); `AutoModelForAudioClassification` as users call it (its
      default fast path vs `forward_implementation="eager"`); and eager vs fast again while a competing process keeps
      one core busy;
  (c) decode throughput per worker: torchcodec whole-file decode + soxr resample, progressive streaming decode, and the
      pre-training stream (`hf_soundnet.pretraining.data`) when the [train] extra is installed;
  (d) distillation training step: `SoundNetForPreTraining` forward + backward + Adam on random teacher
      distributions, 20 s crops;
  (e) start-up: `soundnet classify` of one 30 s MP3 as a fresh process, wall time with everything it does before
      its first decode (imports, model loading), against the command as it started before its light path (full
      registration at import, the model loaded through transformers' Auto classes), both run in turn.

Timings are medians of interleaved repetitions; the spread (min-max) is printed to show the machine's noise.

    python benchmarks/benchmark.py [--quick] [--model soundnet8] [--files 128] [--sections abcde]
"""

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from _common import REPO_ROOT, default_cache, load_classifier, looped_mp3, shared_dir
from tqdm.auto import tqdm


FILE_SECONDS = 30


# ----------------------------------------------------------------------------------------------------------- machine
def machine_description() -> dict[str, str | float]:
    """CPU model, cores, SIMD width and an fp32 peak estimate from `lscpu` (see `estimated_peak_gflops`)."""
    info = {}
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout.splitlines():
            key, _, value = line.partition(":")
            info[key.strip()] = value.strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    flags = set(info.get("Flags", "").split())
    cores = os.cpu_count() or 1
    mhz = float(info.get("CPU max MHz") or 0) or float(info.get("BogoMIPS", "0") or 0) / 2
    lanes = 16 if "avx512f" in flags else 8 if "avx2" in flags else 4
    return {
        "cpu": info.get("Model name", platform.processor() or "unknown"),
        "cores": cores,
        "ghz": mhz / 1000,
        "lanes": lanes,
        "peak_gflops": estimated_peak_gflops(cores, mhz / 1000, lanes),
    }


def estimated_peak_gflops(cores: int, ghz: float, lanes: int, fma_units: int = 2) -> float:
    """`cores x GHz x fp32 lanes x 2 (FMA) x FMA units`: 2 FMA pipes per core on recent x86 (Zen 4/5, Ice Lake+)."""
    return cores * ghz * lanes * 2 * fma_units


def attainable_gflops(size: int = 2048, repeats: int = 10) -> float:
    """fp32 GFLOP/s of a large square matmul, the best of `repeats` (on a shared machine the best is the least
    disturbed): what this machine reaches in practice."""
    a = torch.randn(size, size)
    a @ a
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ a
        times.append(time.perf_counter() - start)
    return 2 * size**3 / min(times) / 1e9


# ----------------------------------------------------------------------------------------------------------- helpers
def timed(function: Callable[[], object]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def interleaved(functions: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Runs each function once to warm up, then `repeats` rounds of all of them in turn: noise hits all alike."""
    for function in functions.values():
        function()
    times = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            times[name].append(timed(function))
    return times


def spread(values: list[float]) -> str:
    return f"{min(values):.0f}-{max(values):.0f}"


def load_models(model_path: str | None):
    """The released weights when available (`soundnet8`), else SoundNet-8 with random weights; and the same weights
    in `SoundNetForPreTraining` (for the forward and training sections)."""
    from hf_soundnet import SoundNetForPreTraining

    classifier, model_path = load_classifier(model_path)
    pretraining = SoundNetForPreTraining(classifier.config).eval()
    pretraining.load_state_dict(classifier.state_dict(), strict=False)
    return classifier, pretraining, model_path


# ------------------------------------------------------------------------------------------------------ (b) forward
def bench_forward(args, pretraining, classifier, rows: list[dict]) -> None:
    """Eager stack vs `FastSoundNet` (SoundNetForPreTraining's weights, heads included), and the
    `AutoModelForAudioClassification` forward as users call it (its default fast path vs `forward_implementation`
    "eager"), each pair timed interleaved in one run."""
    from hf_soundnet.fast_forward_soundnet import FastSoundNet
    from hf_soundnet.inference.flops import forward_flops

    fast = FastSoundNet.from_model(pretraining)
    samples = args.forward_seconds * pretraining.config.sampling_rate
    input_values = torch.randn(args.batch, samples, generator=torch.Generator().manual_seed(0)) * 40
    flops = forward_flops(pretraining.config, samples)["total"] * args.batch
    audio = args.batch * args.forward_seconds
    with torch.inference_mode(), pretraining.forward_implementation("eager"):
        eager_out = pretraining(input_values, output_hidden_states=True)
    with torch.inference_mode():
        fast_out = fast(input_values)
        classifier(input_values)  # builds the classifier's own fast module (once per weights), outside the timing
        error = max(
            ((f - e).abs().max() / e.abs().max().clamp(min=1)).item()
            for f, e in zip(
                fast_out.hidden_states + (fast_out.object_logits,),
                eager_out.hidden_states + (eager_out.object_logits,),
            )
        )
        functions = {
            "eager": lambda: _eager(pretraining, input_values, output_hidden_states=True),
            "fast": lambda: fast(input_values),
            "automodel eager": lambda: _eager(classifier, input_values),
            "automodel": lambda: classifier(input_values),
        }
        if args.bf16:
            fast_bf16 = FastSoundNet.from_model(pretraining, compute_dtype=torch.bfloat16)
            functions["fast bf16"] = lambda: fast_bf16(input_values)
        times = interleaved(functions, args.repeats)
    peak, attainable = args.machine["peak_gflops"], args.attainable
    eager_median = statistics.median(times["eager"])
    automodel_eager_median = statistics.median(times["automodel eager"])
    for name, values in times.items():
        median = statistics.median(values)
        gflops = flops / median / 1e9
        what = {
            "eager": "eager Conv-BN-ReLU stack + heads",
            "fast": "FastSoundNet fp32",
            "fast bf16": "FastSoundNet bf16 (not 1e-4)",
            "automodel eager": "AutoModelForAudioClassification, forward_implementation='eager'",
            "automodel": "AutoModelForAudioClassification, default (fast path inside)",
        }[name]
        note = (
            f"{gflops:.1f} GFLOP/s = {100 * gflops / peak:.0f}% of est. peak {peak:.0f}, "
            f"{100 * gflops / attainable:.0f}% of attainable {attainable:.0f}"
            + (f"; max rel. error vs eager {error:.1e}" if name == "fast" else "")
        )
        baseline = automodel_eager_median if name.startswith("automodel") else eager_median
        if name.startswith("automodel"):
            note = "ratio against the same class with forward_implementation='eager'"
        rows.append(_row("(b) forward", what, audio, values, baseline, note))
    bench_forward_under_load(args, pretraining, fast, input_values, rows)


# A competing process: one thread of matrix products, as another job on the same machine would run.
COMPETING_LOAD = "import torch\ntorch.set_num_threads(1)\na = torch.randn(512, 512)\nwhile True:\n    a @ a\n"


def bench_forward_under_load(args, pretraining, fast, input_values: torch.Tensor, rows: list[dict]) -> None:
    """Eager vs fast forward while another process keeps one core busy (started here, stopped after)."""
    audio = args.batch * args.forward_seconds
    competitor = subprocess.Popen([sys.executable, "-c", COMPETING_LOAD])
    try:
        time.sleep(1.0)  # the competitor is running before the first timing
        with torch.inference_mode():
            times = interleaved(
                {
                    "eager": lambda: _eager(pretraining, input_values, output_hidden_states=True),
                    "fast": lambda: fast(input_values),
                },
                args.repeats,
            )
    finally:
        competitor.kill()
        competitor.wait()
    eager_median = statistics.median(times["eager"])
    what = {"eager": "eager stack, one core busy with another process", "fast": "FastSoundNet, one core busy likewise"}
    for name, values in times.items():
        note = f"{torch.get_num_threads()} torch threads; a competing process runs 1-thread matmuls"
        rows.append(_row("(b) forward under load", what[name], audio, values, eager_median, note))


def _eager(model, input_values: torch.Tensor, **kwargs):
    """`model(input_values)` on the eager stack (hf_soundnet's default is its fast path where no gradient is needed)."""
    with model.forward_implementation("eager"):
        return model(input_values, **kwargs)


# ------------------------------------------------------------------------------------------------ (d) training step
def bench_training(args, config, rows: list[dict]) -> None:
    from hf_soundnet import SoundNetForPreTraining

    model = SoundNetForPreTraining(config).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    samples = 20 * config.sampling_rate
    generator = torch.Generator().manual_seed(0)
    input_values = torch.randn(args.train_batch, samples, generator=generator) * 40
    steps = int(model.get_head_lengths(samples))
    objects = torch.randn(args.train_batch, steps, config.num_object_classes, generator=generator).softmax(-1)
    scenes = torch.randn(args.train_batch, steps, config.num_scene_classes, generator=generator).softmax(-1)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = model(input_values, teacher_object_probs=objects, teacher_scene_probs=scenes).loss
        loss.backward()
        optimizer.step()

    times = interleaved({"train": step}, args.train_steps)["train"]
    audio = args.train_batch * 20
    what = f"distillation step, batch {args.train_batch} x 20 s, Adam"
    rows.append(_row("(d) training", what, audio, times, note=f"{statistics.median(times):.2f} s per step"))


# ------------------------------------------------------------------------------------------------------ audio files
def make_mp3s(count: int, cache: Path) -> list[Path]:
    """`count` 30 s 44.1 kHz stereo MP3s cut from the real recordings (looped), cached outside git."""
    sources = [p for p in sorted((shared_dir() / "audio").glob("*")) if p.suffix in (".mp3", ".wav")]
    if not sources:
        raise SystemExit(f"No recordings in {shared_dir() / 'audio'}: set SOUNDNET_SHARED to the shared data folder.")
    return [
        looped_mp3(sources[i % len(sources)], cache / f"clip_{i:03d}.mp3", i * 1.7 % 10, FILE_SECONDS, "128k")
        for i in tqdm(range(count), desc="MP3s (cached)", leave=False)
    ]


def bench_decode(args, paths: list[Path], rows: list[dict]) -> None:
    from hf_soundnet import load_audio
    from hf_soundnet.inference.streaming import iter_file_waveform

    torch.set_num_threads(1)
    paths = paths[: args.decode_files]  # a per-worker rate: a few dozen files measure it
    audio = len(paths) * FILE_SECONDS
    functions = {
        "whole": lambda: [load_audio(p, channel_mode="first") for p in paths],
        "streamed": lambda: [list(iter_file_waveform(p, piece_seconds=10)) for p in paths],
    }
    times = interleaved(functions, max(1, args.repeats // 2))
    torch.set_num_threads(args.threads)
    notes = {
        "whole": "torchcodec decode, first channel resampled to 22,050 Hz by soxr (load_audio), 1 process, 1 thread",
        "streamed": "progressive decode for streaming (iter_file_waveform: ffmpeg pipe at the file's rate + soxr stream)",
    }
    for name, values in times.items():
        rows.append(_row("(c) decode", f"{name} file, per worker", audio, values, note=notes[name]))
    try:
        import datasets  # noqa: F401  (the [train] extra)
    except ImportError:
        rows.append(_skipped("(c) decode", "streaming corpus", "needs the [train] extra (datasets)"))
        return
    corpus = benchmark_corpus(paths)
    torch.set_num_threads(1)
    crops = interleaved({"corpus": lambda: read_corpus(corpus)}, max(1, args.repeats // 2))["corpus"]
    torch.set_num_threads(args.threads)
    crop_audio = len(paths) * CORPUS_CROP_SECONDS
    note = (
        f"pretraining_dataset over {len(paths)} FLAC records: datasets streaming, decode, "
        f"{CORPUS_CROP_SECONDS:.0f} s crop with its teacher rows (1000 + 401 classes), 1 process"
    )
    rows.append(_row("(c) decode", "streaming corpus, per worker", crop_audio, crops, note=note))


CORPUS_CROP_SECONDS = 20.0


def benchmark_corpus(paths: list[Path]) -> Path:
    """A corpus of the benchmark's clips (FLAC at 22,050 Hz, random 1000- and 401-class teacher rows), cached."""
    from hf_soundnet import load_audio
    from hf_soundnet.pretraining.corpus import CorpusInfo, TeacherInfo, save_corpus_info, shard_path, write_shard
    from hf_soundnet.pretraining.corpus_builder import encode_audio

    corpus = default_cache() / f"corpus_{len(paths)}"
    if (corpus / "soundnet_corpus.json").is_file():
        return corpus
    info = CorpusInfo(teachers=[TeacherInfo("objects", "random", 1000), TeacherInfo("scenes", "random", 401)])
    rng = np.random.default_rng(0)
    records = []
    for path in paths:
        waveform = load_audio(path, info.sampling_rate, channel_mode=info.channel_mode)[0]
        steps = int(waveform.shape[0] / info.step_samples)
        teachers = {
            n: rng.dirichlet(np.ones(c), steps).astype(np.float32) for n, c in (("objects", 1000), ("scenes", 401))
        }
        records.append(
            {
                "key": path.name,
                "source": str(path),
                "duration": waveform.shape[0] / info.sampling_rate,
                "num_steps": steps,
                "audio": encode_audio(waveform, info.sampling_rate, info.audio_format),
                **{f"teacher_{name}": values for name, values in teachers.items()},
            }
        )
    save_corpus_info(corpus, info)
    write_shard(records, shard_path(corpus, 0, 0), info)
    return corpus


def read_corpus(corpus: Path) -> int:
    """Every example of the corpus through `pretraining_dataset` (what a DataLoader worker does)."""
    from hf_soundnet.pretraining.data import pretraining_dataset

    dataset = pretraining_dataset(corpus, crop_seconds=CORPUS_CROP_SECONDS, shuffle_buffer_size=0)
    return sum(1 for _ in dataset)


def _row(
    section: str, what: str, audio: float, times: list[float], baseline: float | None = None, note: str = ""
) -> dict:
    """A table row from repeated timings of `audio` seconds: median rate, spread, ratio to a baseline's median time."""
    median = statistics.median(times)
    return {
        "section": section,
        "what": what,
        "audio s/s": audio / median,
        "spread": spread([audio / v for v in times]),
        "ratio": baseline / median if baseline is not None else None,
        "note": note,
    }


def _skipped(section: str, what: str, why: str) -> dict:
    return {
        "section": section,
        "what": what,
        "audio s/s": None,
        "spread": "",
        "ratio": None,
        "note": f"skipped: {why}",
    }


# ---------------------------------------------------------------------------------------------- (a) end to end
NAIVE_SCRIPT = '''"""The existing ports' script: librosa load at 22,050 Hz mono, then an eager forward per file."""
import sys
from pathlib import Path

import librosa
import torch
from transformers import AutoModelForAudioClassification

from hf_soundnet import SoundNetConfig, SoundNetForAudioClassification

checkpoint, listing = sys.argv[1], Path(sys.argv[2])
if checkpoint == "-":
    model = SoundNetForAudioClassification(SoundNetConfig(classifier_type="pretrained_heads", num_labels=1401))
else:
    model = AutoModelForAudioClassification.from_pretrained(checkpoint)
model.eval()
model.set_forward_implementation("eager")  # the ports' eager stack (hf_soundnet's default is its fast path)
with torch.inference_mode():
    for path in listing.read_text().splitlines():
        waveform, _ = librosa.load(path, sr=22050, mono=True)
        objects, scenes = model.clip_probabilities(torch.from_numpy(waveform * 256.0)[None])
        print(path, int(scenes.argmax(-1)))
'''


def naive_top1(paths: list[Path], classifier) -> list[int]:
    """The existing ports' loop: librosa load at 22,050 Hz mono, then an eager forward, one file at a time."""
    import librosa

    top = []
    with torch.inference_mode(), classifier.forward_implementation("eager"):  # the ports' eager stack
        for path in paths:
            waveform, _ = librosa.load(path, sr=22050, mono=True)
            input_values = torch.from_numpy(waveform * 256.0)[None]
            _, scenes = classifier.clip_probabilities(input_values)
            top.append(int(scenes.argmax(-1)))
    return top


def pipeline_top1(
    paths: list[Path], model_path: str | None, classifier, batch_size: int = 1, num_workers: int = 0
) -> list[int]:
    """transformers' `pipeline("audio-classification")` over file paths: one file at a time in this process
    (`batch_size=1`, `num_workers=0`, upstream's defaults), or decoded by the pipeline's own DataLoader workers and run
    in padded batches. Threads are left as a pipeline user gets them."""
    from transformers import pipeline

    from hf_soundnet import SoundNetFeatureExtractor

    extractor = SoundNetFeatureExtractor(channel_mode="mean")
    classify = pipeline("audio-classification", model=model_path or classifier, feature_extractor=extractor)
    num_objects = classifier.config.num_object_classes
    top = []
    results = classify([str(p) for p in paths], top_k=None, batch_size=batch_size, num_workers=num_workers)
    for result in results:
        scene = max((r for r in result if r["label"].startswith("scene: ")), key=lambda r: r["score"])
        top.append(classifier.config.label2id[scene["label"]] - num_objects)
    return top


def library_top1(paths: list[Path], classifier, workers: int, threads: int, batch: int) -> list[int]:
    """The shipped `classify_files` (what `soundnet classify` runs): decoding workers feeding `FastSoundNet`."""
    from hf_soundnet import SoundNetFeatureExtractor
    from hf_soundnet.inference.classify import classify_files, head_labels

    extractor = SoundNetFeatureExtractor(channel_mode="mean")  # as librosa's mono=True, for the agreement column
    scenes = {label: i for i, label in enumerate(head_labels(classifier.config)[1])}
    records = classify_files(
        classifier, extractor, paths, top_k=1, batch_size=batch, num_workers=workers, num_threads=threads
    )  # torch's thread count is set while the records are made, and restored after
    top = {record["path"]: scenes[record["scenes"][0]["label"]] for record in records}
    return [top[str(path)] for path in paths]


def bench_end_to_end(args, paths: list[Path], classifier, model_path: str | None, rows: list[dict]) -> None:
    from hf_soundnet.inference.parallelism import available_cores, default_parallelism

    audio = len(paths) * FILE_SECONDS
    default_workers, default_threads = default_parallelism("cpu", available_cores())
    workers = default_workers if args.workers is None else args.workers
    threads = default_threads if args.e2e_threads is None else args.e2e_threads
    results: dict[str, list[int]] = {}

    def run(name, function):
        def wrapped():
            results[name] = function()

        return wrapped

    folder = Path(tempfile.mkdtemp())
    listing = folder / "files.txt"
    listing.write_text("".join(f"{path}\n" for path in paths))
    script = folder / "naive_script.py"
    script.write_text(NAIVE_SCRIPT)

    def run_naive_script() -> list[int]:
        done = subprocess.run(
            [sys.executable, str(script), model_path or "-", str(listing)], check=True, capture_output=True, text=True
        )
        return [int(line.rsplit(" ", 1)[1]) for line in done.stdout.splitlines()]

    functions = {
        "naive": run("naive", lambda: naive_top1(paths, classifier)),
        "naive script": run("naive script", run_naive_script),
        "pipeline": run("pipeline", lambda: pipeline_top1(paths, model_path, classifier)),
        "pipeline batched": run(
            "pipeline batched",
            lambda: pipeline_top1(paths, model_path, classifier, batch_size=args.e2e_batch, num_workers=workers),
        ),
        "library": run("library", lambda: library_top1(paths, classifier, workers, threads, args.e2e_batch)),
    }
    # The split the library made before the extra decoding process (half the cores decode, the model gets the rest).
    earlier_workers = max(1, available_cores() // 2)
    earlier_threads = max(1, available_cores() - earlier_workers)
    if args.workers is None and args.e2e_threads is None and (earlier_workers, earlier_threads) != (workers, threads):
        functions["library earlier default"] = run(
            "library earlier default",
            lambda: library_top1(paths, classifier, earlier_workers, earlier_threads, args.e2e_batch),
        )
    what = {
        "naive": "naive loop: librosa.load + eager forward per file",
        "naive script": "the naive loop as a script (python start-up, imports and model loading included)",
        "pipeline": 'pipeline("audio-classification") with file paths, one at a time (batch_size=1, no workers)',
        "pipeline batched": f'pipeline("audio-classification") with file paths, batch_size={args.e2e_batch}, '
        f"num_workers={workers} (decoding in the pipeline's DataLoader workers)",
        "library": f"classify_files in process ({workers} decode worker(s), FastSoundNet on {threads} thread(s), "
        f"batch {args.e2e_batch})",
        "library earlier default": f"classify_files with the earlier default split ({earlier_workers} decode "
        f"worker(s), {earlier_threads} thread(s), batch {args.e2e_batch})",
        "cli": "soundnet classify (CLI subprocess, start-up included; default workers/threads"
        + (", " + " ".join(args.cli_options) if args.cli_options else "")
        + ")",
    }
    skipped = []
    if model_path is None:  # the pipeline's labels come from the converted checkpoint
        for name in ("pipeline", "pipeline batched"):
            del functions[name]
            skipped.append(_skipped("(a) end to end", what[name], f"no converted checkpoint at {args.model}"))
    output = folder / "predictions.jsonl"
    # Not --quiet: the run's own summary (its after-start-up rate) is read from stderr below.
    cli = [sys.executable, "-m", "hf_soundnet.cli", "classify", str(listing), "--output-file", str(output)]
    cli += ["--model", model_path or args.model, *args.cli_options]
    cli_rates = []

    def run_cli() -> None:
        output.unlink(missing_ok=True)  # else the CLI resumes and skips every file
        done = subprocess.run(cli, check=True, capture_output=True, text=True)
        cli_rates.append(float(re.search(r"\((\d+) audio s/s after start-up\)", done.stderr).group(1)))

    trial = subprocess.run(cli, capture_output=True, text=True)
    if trial.returncode == 0:
        functions["cli"] = run_cli
    else:
        why = (trial.stderr.strip().splitlines() or ["no message"])[-1]
        skipped.append(_skipped("(a) end to end", what["cli"], f"`{' '.join(cli[1:4])} ...` failed: {why}"))
    times = interleaved(functions, args.e2e_repeats)
    naive = statistics.median(times["naive"])
    for name, values in times.items():
        notes = []
        if name in results and name not in ("naive", "naive script"):
            agree = np.mean(np.array(results[name]) == np.array(results["naive"]))
            notes.append(f"top-1 scene agrees with the naive loop on {100 * agree:.0f}% of files")
        if name == "pipeline batched":
            per_file = statistics.median(times["pipeline"]) / statistics.median(values)
            notes.append(f"{per_file:.2f}x the per-file pipeline")
        if name == "library earlier default":
            gain = statistics.median(values) / statistics.median(times["library"])
            notes.append(f"the current default split runs {gain:.2f}x as fast")
        if name == "cli":
            like_for_like = statistics.median(times["naive script"]) / statistics.median(values)
            notes.append(f"{like_for_like:.2f}x the naive script (start-up counted in both)")
        rows.append(_row("(a) end to end", what[name], audio, values, naive, "; ".join(notes)))
    if "cli" in functions:
        after_start_up = [audio / rate for rate in cli_rates]  # as timings of the same audio
        what = "soundnet classify, after its start-up (its own report)"
        note = "excludes the fixed cost of each run: python, importing torch/transformers, loading the model"
        rows.append(_row("(a) end to end", what, audio, after_start_up, naive, note))
    rows.extend(skipped)
    shutil.rmtree(folder, ignore_errors=True)


# -------------------------------------------------------------------------------------------------------- (e) start-up
# `soundnet classify` as it started before `hf_soundnet.inference.light_loading`: `import hf_soundnet` registers the
# Auto classes and the pipeline (transformers.modeling_utils, transformers.pipelines) and the model is loaded through
# `AutoModelForAudioClassification`; the records are made as by the command (FastSoundNet built from that model).
OLD_START_UP_SCRIPT = '''"""soundnet classify, started as before its light loading path."""
import sys

import hf_soundnet  # registers SoundNet with the Auto classes and the pipeline at import
from hf_soundnet.cli import classify, main
from hf_soundnet.inference.engine import load_model_and_extractor


def load_through_transformers(name, *, device, **unused):  # quiet, fast, precision, decoder
    return name, *load_model_and_extractor(name, device=device)


classify.load_model = load_through_transformers
sys.exit(main([*sys.argv[1:], "--decoder", "torchcodec"]))  # as it decoded before the ffmpeg program's path
'''


def bench_start_up(args, paths: list[Path], model_path: str | None, rows: list[dict]) -> None:
    """One 30 s file through `soundnet classify` in a fresh process: the new start-up against the old one."""
    what = "soundnet classify of one 30 s MP3, wall time with start-up (a fresh process per run)"
    if model_path is None:
        rows.append(_skipped("(e) start-up", what, f"no converted checkpoint at {args.model}"))
        return
    folder = Path(tempfile.mkdtemp())
    script = folder / "old_start_up.py"
    script.write_text(OLD_START_UP_SCRIPT)
    arguments = ["classify", str(paths[0]), "--model", model_path, "--top-k", "3", "--quiet"]
    outputs: dict[str, str] = {}

    def run(name: str, command: list[str]) -> Callable[[], None]:
        def wrapped() -> None:
            outputs[name] = subprocess.run(command, check=True, capture_output=True, text=True).stdout

        return wrapped

    times = interleaved(
        {
            "old": run("old", [sys.executable, str(script), *arguments]),
            "light": run("light", [sys.executable, "-m", "hf_soundnet.cli", *arguments, "--decoder", "torchcodec"]),
            "new": run("new", [sys.executable, "-m", "hf_soundnet.cli", *arguments]),
        },
        args.start_up_repeats,
    )
    old, new = statistics.median(times["old"]), statistics.median(times["new"])
    records = {name: json.loads(text) for name, text in outputs.items()}
    same = all(
        [entry["label"] for entry in records["old"][head]] == [entry["label"] for entry in records[name][head]]
        for head in ("objects", "scenes")
        for name in ("light", "new")
    )
    agreement = "top-3 objects and scenes equal" if same else "TOP LABELS DIFFER"
    rows.append(
        _row(
            "(e) start-up",
            "before: " + what + "; full registration at import, AutoModel loading",
            FILE_SECONDS,
            times["old"],
            old,
            f"median {old:.2f} s per run",
        )
    )
    light = statistics.median(times["light"])
    rows.append(
        _row(
            "(e) start-up",
            "light loading only: " + what + "; light loading (hf_soundnet.inference.light_loading), decoded by "
            "torchcodec (--decoder torchcodec)",
            FILE_SECONDS,
            times["light"],
            old,
            f"median {light:.2f} s per run, {light / old:.2f} of the old wall time",
        )
    )
    rows.append(
        _row(
            "(e) start-up",
            "after: " + what + "; light loading, decoded by the ffmpeg program (the default --decoder auto for at "
            "most 8 files: torchcodec is not imported)",
            FILE_SECONDS,
            times["new"],
            old,
            f"median {new:.2f} s per run, {new / old:.2f} of the old wall time; {agreement}",
        )
    )
    shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------------- report
def print_table(rows: list[dict], args) -> None:
    machine = args.machine
    print(
        f"\nMachine: {machine['cpu']}, {machine['cores']} cores at {machine['ghz']:.2f} GHz, {machine['lanes']} fp32 "
        f"lanes; est. fp32 peak {machine['peak_gflops']:.0f} GFLOP/s (cores x GHz x lanes x 2 FMA x 2 pipes), "
        f"attainable (2048^2 matmul) {args.attainable:.0f} GFLOP/s; torch {torch.__version__}, "
        f"{args.threads} threads; load average {os.getloadavg()[0]:.1f}.\n"
    )
    print("| section | what | audio s/s (median) | spread | ratio vs baseline | notes |")
    print("|---|---|---:|---|---:|---|")
    for row in rows:
        speed = f"{row['audio s/s']:.0f}" if row["audio s/s"] is not None else "-"
        ratio = f"{row['ratio']:.2f}x" if row["ratio"] is not None else ""
        print(f"| {row['section']} | {row['what']} | {speed} | {row['spread']} | {ratio} | {row['note']} |")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--model", default=str(REPO_ROOT / "soundnet8"), help="converted checkpoint (random weights if absent)"
    )
    parser.add_argument("--files", type=int, default=128, help="30 s MP3s classified in (a)")
    parser.add_argument("--decode-files", type=int, default=32, help="the first so many of them decoded in (c)")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="where the MP3s are cached (default ~/.cache/hf_soundnet/benchmark/clips)",
    )
    parser.add_argument(
        "--threads", type=int, default=torch.get_num_threads(), help="torch threads in (b), (c) and (d)"
    )
    parser.add_argument(
        "--workers", type=int, help="decode workers of classify_files in (a) (default: the CLI's default split)"
    )
    parser.add_argument("--e2e-threads", type=int, help="torch threads of classify_files in (a) (default: likewise)")
    parser.add_argument(
        "--cli-options",
        nargs=argparse.REMAINDER,
        default=[],
        help="options passed on to `soundnet classify` in (a), e.g. --cli-options --num-workers 2 (give it last)",
    )
    parser.add_argument("--batch", type=int, default=8, help="clips per forward in (b)")
    parser.add_argument("--forward-seconds", type=int, default=30, help="clip length in (b)")
    parser.add_argument("--repeats", type=int, default=7, help="interleaved repetitions in (b) and (c)")
    parser.add_argument("--e2e-repeats", type=int, default=3, help="interleaved repetitions in (a)")
    parser.add_argument("--e2e-batch", type=int, default=8, help="clips per forward of classify_files in (a)")
    parser.add_argument("--start-up-repeats", type=int, default=5, help="interleaved runs of each command in (e)")
    parser.add_argument("--train-batch", type=int, default=4, help="20 s crops per training step in (d)")
    parser.add_argument("--train-steps", type=int, default=3, help="timed training steps in (d)")
    parser.add_argument("--bf16", action="store_true", help="also time FastSoundNet with bfloat16 GEMMs in (b)")
    parser.add_argument("--sections", default="abcde", help="which sections to run, e.g. 'b' or 'ab'")
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny sizes, one repetition")
    args = parser.parse_args(argv)
    if args.quick:
        args.files, args.decode_files, args.batch, args.forward_seconds, args.repeats = 2, 2, 2, 10, 1
        args.e2e_repeats = args.start_up_repeats = 1
        args.train_batch, args.train_steps, args.e2e_batch = 1, 1, 2
    if args.files < 1 or args.batch < 1 or args.repeats < 1:
        parser.error("--files, --batch and --repeats must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    args.machine = machine_description()
    args.attainable = attainable_gflops(repeats=3 if args.quick else 10)
    classifier, pretraining, model_path = load_models(args.model)
    if model_path is None:
        print(f"note: no checkpoint at {args.model}; timing SoundNet-8 with random weights", file=sys.stderr)
    rows: list[dict] = []
    cache = args.cache_dir or default_cache() / "clips"
    paths = make_mp3s(args.files, cache) if set(args.sections) & {"a", "c", "e"} else []
    steps = [
        ("a", "end to end", lambda: bench_end_to_end(args, paths, classifier, model_path, rows)),
        ("b", "forward", lambda: bench_forward(args, pretraining, classifier, rows)),
        ("c", "decode", lambda: bench_decode(args, paths, rows)),
        ("d", "training", lambda: bench_training(args, pretraining.config, rows)),
        ("e", "start-up", lambda: bench_start_up(args, paths, model_path, rows)),
    ]
    for key, name, step in tqdm([s for s in steps if s[0] in args.sections], desc="benchmark"):
        tqdm.write(f"running ({key}) {name}")
        step()
    args.attainable = max(args.attainable, attainable_gflops(repeats=3 if args.quick else 10))  # again, after
    print_table(rows, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
