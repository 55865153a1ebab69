"""Exit statuses of every hf_soundnet command (the `soundnet` subcommands and the example scripts).

0 done; 1 some inputs failed, or the work itself failed; 2 usage error (bad options, paths or environment);
3 the work is saved locally but the Hub push failed (push the folder again later).
"""

EXIT_OK = 0
EXIT_FAILED_FILES = 1
EXIT_USAGE = 2
EXIT_PUSH_FAILED = 3

__all__ = ["EXIT_FAILED_FILES", "EXIT_OK", "EXIT_PUSH_FAILED", "EXIT_USAGE"]
