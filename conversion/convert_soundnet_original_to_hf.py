#!/usr/bin/env python
"""Convert the released SoundNet-8 weights to a transformers checkpoint: the same as `soundnet convert`.

The converter lives in the package (`hf_soundnet.conversion`, `hf_soundnet/cli/convert.py`); this script keeps the
transformers-style `convert_*_original_to_hf.py` entry point. See `soundnet convert --help`.

Example:
    python conversion/convert_soundnet_original_to_hf.py --output-dir soundnet8 [--push-to-hub user/soundnet8]
"""

import sys

from hf_soundnet.cli import main as soundnet_main


def main(argv: list[str] | None = None) -> int:
    """Runs `soundnet convert` with `argv` (default: the command line); returns its exit status."""
    return soundnet_main(["convert", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
