"""The SoundNet demo as a Hugging Face Space: the page of `soundnet demo` (`hf_soundnet.demo.app.build_demo`).

Which checkpoint: the first argument (`python app.py soundnet8`), else the Space variable or environment variable
`SOUNDNET_MODEL` (a Hub id such as `user/soundnet8`, pushed with `soundnet convert --output-dir soundnet8
--push-to-hub --hub-model-id user/soundnet8`, or a local folder), else `./soundnet8` when it exists, else the
released weights converted once from the registry package (`hf_soundnet.conversion.released_checkpoint`).
Offline (`HF_HUB_OFFLINE=1`) it runs on a local folder.
"""

import os
import sys


os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from hf_soundnet.cli.common import default_model  # noqa: E402
from hf_soundnet.demo.app import launch_demo, load_demo  # noqa: E402


def checkpoint_name(argv: list[str]) -> str:
    """The checkpoint this Space serves (see the module docstring)."""
    if argv:
        return argv[0]
    return os.environ.get("SOUNDNET_MODEL") or default_model()


demo = load_demo(checkpoint_name(sys.argv[1:]))

if __name__ == "__main__":
    # A Space serves on 0.0.0.0:7860 (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT); locally this is 127.0.0.1:7860.
    launch_demo(
        demo,
        host=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
    )
