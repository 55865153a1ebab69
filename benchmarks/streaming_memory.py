"""Peak memory of exact streaming over a long file (default: 3 hours, 44.1 kHz stereo MP3, made once with ffmpeg).

The file is cut from the shared real recordings, looped, and cached outside git. The streaming itself runs in a child
process so that its peak resident memory (`ru_maxrss`) is its own:

    python benchmarks/streaming_memory.py [--hours 3] [--layers pool5 conv8] [--chunk-seconds 60]

For scale: the whole 3 h waveform at 22,050 Hz is 0.95 GB as float32 (1.9 GB decoded in stereo), and a full forward
would hold conv1's output alone, about 8 GB.
"""

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from _common import REPO_ROOT, default_cache, load_classifier, looped_mp3, shared_dir


def make_long_file(hours: float, cache: Path) -> Path:
    """A `hours`-long 44.1 kHz stereo 64 kb/s MP3 of the real recordings, looped (cached)."""
    shared = shared_dir() / "audio" / "forest_track.mp3"
    if not shared.is_file():
        raise SystemExit(f"{shared}: not found; set SOUNDNET_SHARED to the shared data folder.")
    path = cache / f"long_{hours:g}h.mp3"
    if not path.is_file():
        print(f"making {path} (once; about a minute per hour of audio)", file=sys.stderr)
    return looped_mp3(shared, path, 0.0, hours * 3600, "64k")


def child(path: str, model: str, layers: list[str], chunk_seconds: float) -> None:
    """Streams the file and prints a JSON line with the frame counts, the time and the peak RSS."""
    import torch
    from tqdm.auto import tqdm

    from hf_soundnet.fast_forward_soundnet import FastSoundNet
    from hf_soundnet.inference.streaming import stream_file

    fast = FastSoundNet.from_model(load_classifier(model)[0])
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    frames, start = {}, time.perf_counter()
    kept = []  # the small outputs are kept, as a user would
    with tqdm(unit="s audio", desc="streaming") as bar:
        for chunk in stream_file(fast, path, layers, chunk_seconds=chunk_seconds):
            for key, value in chunk.values.items():
                frames[key] = frames.get(key, 0) + value.shape[-1 if not key.endswith("_logits") else 0]
                kept.append(value)
            bar.update(chunk_seconds)
    elapsed = time.perf_counter() - start
    seconds = frames.get("object_logits", 0) * fast.config.head_hop / fast.config.sampling_rate
    print(
        json.dumps(
            {
                "frames": frames,
                "seconds": elapsed,
                "audio_seconds_from_head_steps": seconds,
                "kept_output_mb": sum(v.numel() * v.element_size() for v in kept) / 2**20,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "rss_after_model_load_mb": rss_before / 1024,
                "threads": torch.get_num_threads(),
            }
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hours", type=float, default=3.0, help="length of the synthetic file")
    parser.add_argument("--model", default=str(REPO_ROOT / "soundnet8"), help="checkpoint (random weights if absent)")
    parser.add_argument("--layers", nargs="+", default=["pool5", "conv8"], help="layers to stream")
    parser.add_argument("--chunk-seconds", type=float, default=60.0, help="core length of a chunk")
    parser.add_argument("--cache-dir", type=Path, default=None, help="where the long file is cached")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.model, args.layers, args.chunk_seconds)
        return 0
    cache = args.cache_dir or default_cache() / "long"
    path = make_long_file(args.hours, cache)
    command = [sys.executable, __file__, "--child", str(path), "--model", args.model, "--chunk-seconds"]
    command += [str(args.chunk_seconds), "--layers", *args.layers]
    result = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    if result.returncode != 0:
        print(f"streaming failed with exit status {result.returncode}", file=sys.stderr)
        return result.returncode
    report = json.loads(result.stdout.strip().splitlines()[-1])
    audio = args.hours * 3600
    print(
        f"{args.hours:g} h file ({path.stat().st_size / 2**20:.1f} MB MP3, 44.1 kHz stereo): streamed {args.layers} "
        f"in {report['seconds']:.0f} s ({audio / report['seconds']:.0f} audio s/s, {report['threads']} threads); "
        f"peak RSS {report['peak_rss_mb']:.0f} MB (after loading the model: {report['rss_after_model_load_mb']:.0f} MB; "
        f"outputs kept: {report['kept_output_mb']:.0f} MB); frames {report['frames']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
