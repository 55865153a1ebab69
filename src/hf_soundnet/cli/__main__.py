"""`python -m hf_soundnet.cli` runs the `soundnet` console script."""

from . import console_main


console_main()
