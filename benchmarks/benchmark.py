"""SoundNet throughput on this machine: everything measured side by side in one run, reported as a markdown table.

Sections (ratios are against baselines measured in the same run):
  (a) end-to-end classification of a folder of 30 s 44.1 kHz stereo MP3s: a naive per-file loop (librosa load at
      22,050 Hz, eager forward under `torch.inference_mode`), transformers' `pipeline("audio-classification")` with
      file paths, the fast path (DataLoader worker processes decoding with torchcodec + `FastSoundNet`), and the
      `soundnet classify` CLI (a subprocess);
  (b) model forward: eager `SoundNetForPreTraining` (Conv-BN-ReLU-pool stack and heads) vs `FastSoundNet`, audio s/s,
      GFLOP/s (`hf_soundnet.flops.forward_flops`) and share of the fp32 peak (estimated from lscpu, and measured as a
      large matmul's GFLOP/s: "attainable");
  (c) decode throughput per worker: torchcodec whole-file decode + resample, progressive streaming decode, and the
      pre-training stream (`hf_soundnet.data_pretraining`) when the [train] extra is installed;
  (d) distillation training step: `SoundNetForPreTraining` forward + backward + Adam on random teacher
      distributions, 20 s crops.

Timings are medians of interleaved repetitions; the spread (min-max) is printed to show the machine's noise.

    python benchmarks/benchmark.py [--quick] [--model soundnet8] [--files 16] [--workers 1]
"""

import argparse
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
from tqdm.auto import tqdm


REPO_ROOT = Path(__file__).resolve().parent.parent
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
    """The released weights when available (`soundnet8`), else SoundNet-8 with random weights."""
    from hf_soundnet import SoundNetConfig, SoundNetForAudioClassification, SoundNetForPreTraining

    if model_path and (Path(model_path) / "config.json").is_file():
        classifier = SoundNetForAudioClassification.from_pretrained(model_path).eval()
    else:
        config = SoundNetConfig(classifier_type="pretrained_heads", num_labels=1401)
        classifier = SoundNetForAudioClassification(config).eval()
        model_path = None
    pretraining = SoundNetForPreTraining(classifier.config).eval()
    pretraining.load_state_dict(classifier.state_dict(), strict=False)
    return classifier, pretraining, model_path


# ------------------------------------------------------------------------------------------------------ (b) forward
def bench_forward(args, pretraining, rows: list[dict]) -> None:
    from hf_soundnet.fast_forward import FastSoundNet
    from hf_soundnet.flops import forward_flops

    fast = FastSoundNet.from_model(pretraining)
    samples = args.forward_seconds * pretraining.config.sampling_rate
    input_values = torch.randn(args.batch, samples, generator=torch.Generator().manual_seed(0)) * 40
    flops = forward_flops(pretraining.config, samples)["total"] * args.batch
    audio = args.batch * args.forward_seconds
    with torch.inference_mode():
        eager_out = pretraining(input_values, output_hidden_states=True)
        fast_out = fast(input_values)
        error = max(
            ((f - e).abs().max() / e.abs().max().clamp(min=1)).item()
            for f, e in zip(
                fast_out.hidden_states + (fast_out.object_logits,),
                eager_out.hidden_states + (eager_out.object_logits,),
            )
        )
        functions = {
            "eager": lambda: pretraining(input_values, output_hidden_states=True),
            "fast": lambda: fast(input_values),
        }
        if args.bf16:
            fast_bf16 = FastSoundNet.from_model(pretraining, compute_dtype=torch.bfloat16)
            functions["fast bf16"] = lambda: fast_bf16(input_values)
        times = interleaved(functions, args.repeats)
    peak, attainable = args.machine["peak_gflops"], args.attainable
    eager_median = statistics.median(times["eager"])
    for name, values in times.items():
        median = statistics.median(values)
        gflops = flops / median / 1e9
        what = {
            "eager": "eager Conv-BN-ReLU stack + heads",
            "fast": "FastSoundNet fp32",
            "fast bf16": "FastSoundNet bf16 (not 1e-4)",
        }[name]
        note = (
            f"{gflops:.1f} GFLOP/s = {100 * gflops / peak:.0f}% of est. peak {peak:.0f}, "
            f"{100 * gflops / attainable:.0f}% of attainable {attainable:.0f}"
            + (f"; max rel. error vs eager {error:.1e}" if name == "fast" else "")
        )
        rows.append(_row("(b) forward", what, audio, values, eager_median, note))


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
    if shutil.which("ffmpeg") is None:
        raise SystemExit("ffmpeg is needed to make the benchmark's MP3s: apt-get install ffmpeg.")
    cache.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in tqdm(range(count), desc="MP3s (cached)", leave=False):
        path = cache / f"clip_{i:03d}.mp3"
        if not path.is_file():
            source = sources[i % len(sources)]
            command = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-stream_loop", "-1", "-i", str(source)]
            command += ["-ss", str(i * 1.7 % 10), "-t", str(FILE_SECONDS), "-ar", "44100", "-ac", "2", "-b:a", "128k"]
            command += ["-map_metadata", "-1"]
            subprocess.run(command + [str(path.with_suffix(".tmp.mp3"))], check=True)
            path.with_suffix(".tmp.mp3").rename(path)
        paths.append(path)
    return paths


def default_cache() -> Path:
    return Path(os.environ.get("HF_SOUNDNET_CACHE", Path.home() / ".cache" / "hf_soundnet")) / "benchmark"


def shared_dir() -> Path:
    return Path(os.environ.get("SOUNDNET_SHARED", REPO_ROOT.parent / "shared"))


# ------------------------------------------------------------------------------------------------- (c) decoding
def bench_decode(args, paths: list[Path], rows: list[dict]) -> None:
    from hf_soundnet import load_audio
    from hf_soundnet.streaming import iter_file_waveform

    torch.set_num_threads(1)
    audio = len(paths) * FILE_SECONDS
    functions = {
        "whole": lambda: [load_audio(p) for p in paths],
        "streamed": lambda: [list(iter_file_waveform(p, piece_seconds=10)) for p in paths],
    }
    times = interleaved(functions, max(1, args.repeats // 2))
    torch.set_num_threads(args.threads)
    notes = {
        "whole": "torchcodec decode + FFmpeg resample to 22,050 Hz (load_audio), 1 process, 1 thread",
        "streamed": "progressive decode for streaming (iter_file_waveform: ffmpeg pipe when resampling)",
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
    from hf_soundnet.corpus import CorpusInfo, TeacherInfo, save_corpus_info, shard_path, write_shard
    from hf_soundnet.corpus_builder import encode_audio

    corpus = default_cache() / f"corpus_{len(paths)}"
    if (corpus / "soundnet_corpus.json").is_file():
        return corpus
    info = CorpusInfo(teachers=[TeacherInfo("objects", "random", 1000), TeacherInfo("scenes", "random", 401)])
    rng = np.random.default_rng(0)
    records = []
    for path in paths:
        waveform = load_audio(path, info.sampling_rate)[0]
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
    from hf_soundnet.data_pretraining import pretraining_dataset

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
class _DecodedClips(torch.utils.data.Dataset):
    """Worker-side decoding with torchcodec: a path -> mono `input_values` (x256), channels averaged by FFmpeg
    before resampling (like librosa's `mono=True`; 8% faster than resampling both channels)."""

    def __init__(self, paths: list[Path]):
        self.paths = paths

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> torch.Tensor:
        from torchcodec.decoders import AudioDecoder

        decoder = AudioDecoder(str(self.paths[index]), sample_rate=22050, num_channels=1)
        return decoder.get_all_samples().data[0] * 256.0


def _pad(clips: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    length = max(c.shape[0] for c in clips)
    values = torch.zeros(len(clips), length)
    mask = torch.zeros(len(clips), length, dtype=torch.long)
    for i, clip in enumerate(clips):
        values[i, : clip.shape[0]], mask[i, : clip.shape[0]] = clip, 1
    return values.pin_memory() if torch.cuda.is_available() else values, mask


def _worker_init(_):
    torch.set_num_threads(1)


def fast_path_top1(paths: list[Path], fast, workers: int, batch: int) -> list[int]:
    """DataLoader worker processes decode while the main process runs FastSoundNet: top-1 scene per file."""
    loader = torch.utils.data.DataLoader(
        _DecodedClips(paths),
        batch_size=batch,
        num_workers=workers,
        collate_fn=_pad,
        worker_init_fn=_worker_init,
        prefetch_factor=4 if workers else None,
        persistent_workers=False,
    )
    top = []
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, threads - workers))  # the decode workers have their cores
    for values, mask in loader:
        outputs = fast(values, attention_mask=mask)
        steps = torch.arange(outputs.scene_logits.shape[1])[None, :] < outputs.step_lengths[:, None]
        probs = (outputs.scene_logits.softmax(-1) * steps[..., None]).sum(1) / outputs.step_lengths[:, None]
        top += probs.argmax(-1).tolist()
    torch.set_num_threads(threads)
    return top


def naive_top1(paths: list[Path], classifier) -> list[int]:
    """The existing ports' loop: librosa load at 22,050 Hz mono, then an eager forward, one file at a time."""
    import librosa

    top = []
    with torch.inference_mode():
        for path in paths:
            waveform, _ = librosa.load(path, sr=22050, mono=True)
            input_values = torch.from_numpy(waveform * 256.0)[None]
            _, scenes = classifier.clip_probabilities(input_values)
            top.append(int(scenes.argmax(-1)))
    return top


def pipeline_top1(paths: list[Path], model_path: str | None, classifier) -> list[int]:
    from transformers import pipeline

    from hf_soundnet import SoundNetFeatureExtractor

    extractor = SoundNetFeatureExtractor(channel_mode="mean")
    classify = pipeline("audio-classification", model=model_path or classifier, feature_extractor=extractor)
    num_objects = classifier.config.num_object_classes
    top = []
    for result in classify([str(p) for p in paths], top_k=None):
        scene = max((r for r in result if r["label"].startswith("scene: ")), key=lambda r: r["score"])
        top.append(classifier.config.label2id[scene["label"]] - num_objects)
    return top


def bench_end_to_end(args, paths: list[Path], classifier, model_path: str | None, rows: list[dict]) -> None:
    from hf_soundnet.fast_forward import FastSoundNet

    fast = FastSoundNet.from_model(classifier)
    audio = len(paths) * FILE_SECONDS
    results: dict[str, list[int]] = {}

    def run(name, function):
        def wrapped():
            results[name] = function()

        return wrapped

    functions = {
        "naive": run("naive", lambda: naive_top1(paths, classifier)),
        "pipeline": run("pipeline", lambda: pipeline_top1(paths, model_path, classifier)),
        "fast": run("fast", lambda: fast_path_top1(paths, fast, args.workers, args.e2e_batch)),
    }
    what = {
        "naive": "naive loop: librosa.load + eager forward per file",
        "pipeline": 'pipeline("audio-classification") with file paths',
        "fast": f"DataLoader ({args.workers} torchcodec decode worker(s)) + FastSoundNet "
        f"({max(1, args.threads - args.workers)} thread(s)), batch {args.e2e_batch}",
        "cli": f"soundnet classify (CLI subprocess, {args.workers} worker(s), "
        f"{max(1, args.threads - args.workers)} thread(s), batch {args.e2e_batch})",
    }
    skipped = []
    if model_path is None:  # the pipeline's labels come from the converted checkpoint
        del functions["pipeline"]
        skipped.append(_skipped("(a) end to end", what["pipeline"], f"no converted checkpoint at {args.model}"))
    cli, output = _cli_command(paths)
    cli += ["--num-workers", str(args.workers), "--batch-size", str(args.e2e_batch), "--quiet"]
    cli += ["--threads", str(max(1, args.threads - args.workers))]  # the same split as the fast path
    cli_rates = []

    def run_cli() -> None:
        output.unlink(missing_ok=True)  # else the CLI resumes and skips every file
        done = subprocess.run(cli, check=True, capture_output=True, text=True)
        cli_rates.append(float(re.search(r"\((\d+) audio s/s after start-up\)", done.stderr).group(1)))

    trial = subprocess.run(cli, capture_output=True, text=True)
    output.unlink(missing_ok=True)
    if trial.returncode == 0:
        functions["cli"] = run_cli
    else:
        why = (trial.stderr.strip().splitlines() or ["no message"])[-1]
        skipped.append(_skipped("(a) end to end", what["cli"], f"`{' '.join(cli[1:4])} ...` failed: {why}"))
    times = interleaved(functions, args.e2e_repeats)
    naive = statistics.median(times["naive"])
    for name, values in times.items():
        note = ""
        if name in results and name != "naive":
            agree = np.mean(np.array(results[name]) == np.array(results["naive"]))
            note = f"top-1 scene agrees with the naive loop on {100 * agree:.0f}% of files"
        rows.append(_row("(a) end to end", what[name], audio, values, naive, note))
    if "cli" in functions:
        after_start_up = [audio / rate for rate in cli_rates]  # as timings of the same audio
        what = "soundnet classify, after its start-up (its own report)"
        note = "excludes importing transformers and loading the model (a fixed cost per run)"
        rows.append(_row("(a) end to end", what, audio, after_start_up, naive, note))
    rows.extend(skipped)


def _cli_command(paths: list[Path]) -> tuple[list[str], Path]:
    """`soundnet classify` over a folder holding exactly the benchmark's files (as links), and its output file."""
    folder = Path(tempfile.mkdtemp())
    for path in paths:
        (folder / path.name).symlink_to(path.resolve())
    out = folder.parent / f"{folder.name}_predictions.jsonl"
    return [sys.executable, "-m", "hf_soundnet.cli", "classify", str(folder), "--output", str(out)], out


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
    parser.add_argument("--files", type=int, default=32, help="30 s MP3s for (a) and (c)")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="where the MP3s are cached (default ~/.cache/hf_soundnet/benchmark/clips)",
    )
    parser.add_argument("--workers", type=int, default=1, help="DataLoader decode workers of the fast end-to-end path")
    parser.add_argument(
        "--threads", type=int, default=torch.get_num_threads(), help="torch threads of the main process"
    )
    parser.add_argument("--batch", type=int, default=8, help="clips per forward in (b)")
    parser.add_argument("--forward-seconds", type=int, default=30, help="clip length in (b)")
    parser.add_argument("--repeats", type=int, default=7, help="interleaved repetitions in (b) and (c)")
    parser.add_argument("--e2e-repeats", type=int, default=3, help="interleaved repetitions in (a)")
    parser.add_argument("--e2e-batch", type=int, default=4, help="clips per forward in the fast end-to-end path")
    parser.add_argument("--train-batch", type=int, default=4, help="20 s crops per training step in (d)")
    parser.add_argument("--train-steps", type=int, default=3, help="timed training steps in (d)")
    parser.add_argument("--bf16", action="store_true", help="also time FastSoundNet with bfloat16 GEMMs in (b)")
    parser.add_argument("--sections", default="abcd", help="which sections to run, e.g. 'b' or 'ab'")
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny sizes, one repetition")
    args = parser.parse_args(argv)
    if args.quick:
        args.files, args.batch, args.forward_seconds, args.repeats, args.e2e_repeats = 2, 2, 10, 1, 1
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
    paths = make_mp3s(args.files, cache) if set(args.sections) & {"a", "c"} else []
    steps = [
        ("a", "end to end", lambda: bench_end_to_end(args, paths, classifier, model_path, rows)),
        ("b", "forward", lambda: bench_forward(args, pretraining, rows)),
        ("c", "decode", lambda: bench_decode(args, paths, rows)),
        ("d", "training", lambda: bench_training(args, pretraining.config, rows)),
    ]
    for key, name, step in tqdm([s for s in steps if s[0] in args.sections], desc="benchmark"):
        tqdm.write(f"running ({key}) {name}")
        step()
    args.attainable = max(args.attainable, attainable_gflops(repeats=3 if args.quick else 10))  # again, after
    print_table(rows, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
