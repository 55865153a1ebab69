"""How the cores are shared between decoding processes and the model's torch threads.

The library calls over files ([`classify_files`], [`extract_files`]) take `num_workers` and `num_threads`; None
asks for the split [`resolve_parallelism`] makes here, and the calls set torch's thread count for each phase of
their work with [`torch_threads`] (restored when they finish).
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS tells it)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def default_parallelism(device: str, cores: int, num_workers: int | None = None) -> tuple[int, int]:
    """
    `(decoding processes, torch threads)` for `cores` cores. With `num_workers` given, the model gets the cores they
    leave (at least one thread).

    The default on CPU: the model gets half the cores (rounded up) and the decoding processes the other half plus
    one. Decoding and resampling a 44.1 kHz stereo MP3 costs about 1.5 times the CPU of its fast forward (README,
    "Benchmarks": 28-33 ms against 19-21 ms per 30 s file on one core), and the model's process leaves its cores idle
    while it waits for a batch and writes its records: the extra process decodes in those gaps. On 2 cores that is 2
    processes beside 1 thread, which classified 128 MP3s 10-15% faster than 1 beside 1 in the same run; a file that
    decodes quickly (WAV) leaves the extra process waiting, at no cost to the model, whose threads are the same. With a
    GPU the model needs little CPU: all cores but one decode.
    """
    if num_workers is None:
        if device.startswith("cuda"):
            num_workers = max(1, cores - 1)
        else:
            threads = cores - cores // 2
            return cores // 2 + 1, threads
    return num_workers, max(1, cores - num_workers)


@dataclass(frozen=True)
class Parallelism:
    """
    The resolved split of the cores.

    Args:
        num_workers: DataLoader decoding processes (0 decodes in this process).
        num_threads: torch threads of this process while the workers decode beside it.
        solo_threads: torch threads when this process decodes alone (streamed files, with no workers beside it).
    """

    num_workers: int
    num_threads: int
    solo_threads: int


def resolve_parallelism(device: str, num_workers: int | None = None, num_threads: int | None = None) -> Parallelism:
    """
    Fills what the caller left None: `num_workers` and `num_threads` by [`default_parallelism`] over
    [`available_cores`], and `solo_threads` is `num_threads` when given, else every core (no decoding processes run
    beside a streamed file).

    Raises:
        ValueError: `num_workers < 0` or `num_threads < 1`.
    """
    if num_workers is not None and num_workers < 0:
        raise ValueError(f"num_workers must be >= 0, got {num_workers}.")
    if num_threads is not None and num_threads < 1:
        raise ValueError(f"num_threads must be >= 1, got {num_threads}.")
    cores = available_cores()
    workers, threads = default_parallelism(device, cores, num_workers)
    return Parallelism(num_workers=workers, num_threads=num_threads or threads, solo_threads=num_threads or cores)


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """torch's intra-op thread count set to `count` inside the block, and restored after it."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


__all__ = ["Parallelism", "available_cores", "default_parallelism", "resolve_parallelism", "torch_threads"]
