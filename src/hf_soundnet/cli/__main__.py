"""`python -m hf_soundnet.cli` runs the `soundnet` console script."""

import sys

from . import main


sys.exit(main())
