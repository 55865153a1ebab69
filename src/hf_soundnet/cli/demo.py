"""Serve the interactive demo: a web page where you upload or record audio and see its objects and scenes.

The page (Gradio) shows the top objects and scenes of the recording, the timeline plot (per 2.97 s step, each head's
probabilities as a heat strip) and a per-step table; files are classified as `soundnet classify` does it (decoded with
FFmpeg, first channel, fast forward). It runs offline on a local checkpoint: nothing is fetched unless --model names a
Hub id that is not cached, or --share on asks for a public link. Stop it with Ctrl-C.

The same page is the Hugging Face Space in spaces/soundnet8/ (needs the `demo` extra: `pip install ".[demo]"`).

Exit status: 0 stopped by Ctrl-C, 2 usage error (no such checkpoint, a port in use, gradio not installed).

Example:
    soundnet demo                       # ./soundnet8 (or the released weights), http://127.0.0.1:7860
    soundnet demo --model user/soundnet8 --port 8080 --host 0.0.0.0
"""

import argparse
import os

from ..exit_status import EXIT_OK
from .common import UsageError, default_model
from .options import add_option, add_quiet_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        "--checkpoint",
        dest="model",
        help="Checkpoint directory or Hub id with the released heads (default: ./soundnet8 when that folder exists, "
        "else the released weights converted once into $HF_SOUNDNET_CACHE).",
    )
    add_option(parser, "host", default="127.0.0.1", help="Address to serve on (default: %(default)s, this machine).")
    add_option(parser, "port", type=int, default=7860, help="Port to serve on (default: %(default)s).")
    add_option(
        parser,
        "share",
        choices=("on", "off"),
        default="off",
        help="`on` asks Gradio for a temporary public link (needs the network; default: %(default)s).",
    )
    add_option(parser, "top_k", type=int, default=5, help="Objects and scenes listed (default: %(default)s).")
    add_option(parser, "use_cpu", action="store_true", help="Run on CPU even when a GPU is available.")
    add_quiet_argument(parser)


def run(args: argparse.Namespace) -> int:
    import torch

    if not 0 < args.port < 65536:
        raise UsageError(f"--port must be in 1..65535, got {args.port}.")
    if args.top_k < 1:
        raise UsageError(f"--top-k must be >= 1, got {args.top_k}.")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    try:
        from ..demo.app import build_demo, launch_demo
    except ImportError as err:
        raise UsageError(f"the demo needs the `demo` extra ({err}): pip install 'hf-soundnet[demo]'.") from err
    from ..demo.analysis import DemoModel

    name = args.model or default_model(quiet=args.quiet)
    device = "cpu" if args.use_cpu or not torch.cuda.is_available() else "cuda"
    try:
        demo_model = DemoModel.load(name, device=device)
    except (OSError, ValueError) as err:
        raise UsageError(f"cannot load the model {name!r}: {err}") from err
    blocks = build_demo(demo_model, top_k=args.top_k)
    try:
        launch_demo(blocks, host=args.host, port=args.port, share=args.share == "on", quiet=args.quiet)
    except OSError as err:  # the port is taken, or the address cannot be bound
        raise UsageError(f"cannot serve on {args.host}:{args.port}: {err}") from err
    return EXIT_OK


__all__ = ["add_arguments", "run"]
