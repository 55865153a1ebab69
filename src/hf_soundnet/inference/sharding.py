"""Sharing one command's input files between the processes of `accelerate launch` (or `torchrun`).

- [`ProcessGroup`] reads the process layout that the launcher puts in the environment (`RANK`, `WORLD_SIZE`,
  `LOCAL_RANK`, `LOCAL_WORLD_SIZE`: `accelerate launch --multi_gpu` runs torchrun, which sets them) and, with more
  than one process, joins a gloo group through `torch.distributed` (`init_method="env://"`). The processes exchange
  only small Python objects (the done set, durations, counts), so gloo serves CPU and GPU runs alike; torch is a
  dependency of the package while accelerate is an optional extra, hence `torch.distributed` rather than
  `accelerate.PartialState`. Without those variables (or with one process) nothing is joined and every call is
  the identity: one process behaves as if there were no launcher.
- [`balanced_shares`] splits the files by their cost (audio seconds, from [`file_costs`]) with the greedy
  longest-processing-time rule: the costliest file first, each to the process with the least work so far, ties by
  path and then by rank. It depends on nothing but its arguments, so every process computes the same split.
"""

import heapq
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist


# How long a process waits for the others at a barrier (the slowest share, the merge) before the group gives up.
# Shares are balanced by duration, but one long file can keep one process busy for a long time.
BARRIER_TIMEOUT = timedelta(hours=24)


@dataclass
class ProcessGroup:
    """
    This process's place among the processes of one launch.

    Args:
        rank: this process's index, `0 <= rank < world_size`; process 0 merges the parts and prints the summary.
        world_size: the number of processes.
        local_rank: its index on this machine (picks its GPU).
        local_world_size: the processes on this machine (they share its cores).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1
    joined: bool = field(default=False, repr=False)  # whether this object initialised torch.distributed

    @staticmethod
    def launched_world_size() -> int:
        """The number of processes the launcher started (`WORLD_SIZE`, 1 without a launcher), before joining."""
        return int(os.environ.get("WORLD_SIZE", "1"))

    @classmethod
    def from_environment(cls) -> "ProcessGroup":
        """The layout in `os.environ` (one process when `WORLD_SIZE` is unset or 1); joins the gloo group when
        there are several processes and `torch.distributed` is not initialised yet (call [`close`] at the end)."""
        world_size = cls.launched_world_size()
        if world_size <= 1:
            return cls()
        rank = int(os.environ["RANK"])
        local_rank = int(os.environ.get("LOCAL_RANK", rank))
        local_world_size = int(os.environ.get("LOCAL_WORLD_SIZE", world_size))
        joined = False
        if not dist.is_initialized():
            dist.init_process_group("gloo", init_method="env://", timeout=BARRIER_TIMEOUT)
            joined = True
        return cls(rank, world_size, local_rank, local_world_size, joined)

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def device(self, use_cpu: bool) -> str:
        """`cuda:LOCAL_RANK` (modulo the GPUs) when a GPU is available and not `use_cpu`, else `cpu`."""
        if use_cpu or not torch.cuda.is_available():
            return "cpu"
        return f"cuda:{self.local_rank % torch.cuda.device_count()}" if self.is_distributed else "cuda"

    def cores(self, available: int) -> int:
        """This process's part of the `available` cores of its machine (at least 1), so that the processes of a
        machine do not oversubscribe it."""
        return max(1, available // self.local_world_size)

    def barrier(self) -> None:
        if self.is_distributed:
            dist.barrier()

    def broadcast(self, value: Any) -> Any:
        """Process 0's `value`, in every process."""
        if not self.is_distributed:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def all_gather(self, value: Any) -> list[Any]:
        """Every process's `value`, in rank order, in every process."""
        if not self.is_distributed:
            return [value]
        values = [None] * self.world_size
        dist.all_gather_object(values, value)
        return values

    def close(self) -> None:
        """Leaves the group if [`from_environment`] joined it."""
        if self.joined and dist.is_initialized():
            dist.destroy_process_group()
            self.joined = False


def file_costs(durations: Sequence[float | None], sizes: Sequence[int | None]) -> list[float]:
    """
    The cost of each file in audio seconds: its header duration when known, else its size in bytes times the
    seconds per byte of the files where both are known (sizes alone when no file has both; 0 for a missing file).
    """
    both = [(d, s) for d, s in zip(durations, sizes) if d is not None and s]
    if not both:  # no rate to convert sizes with: compare sizes alone, in one unit
        return [float(s or 0) for s in sizes]
    seconds_per_byte = sum(d for d, _ in both) / sum(s for _, s in both)
    return [float(d) if d is not None else float(s or 0) * seconds_per_byte for d, s in zip(durations, sizes)]


def file_size(path: str | os.PathLike) -> int | None:
    try:
        return os.stat(path).st_size
    except OSError:
        return None


def probe_costs(paths: Sequence[str], group: ProcessGroup) -> list[float]:
    """[`file_costs`] of `paths` (header durations through torchcodec, sizes as the fallback), each process
    probing every `world_size`-th file and all of them receiving every cost."""
    from .extract import probe_duration

    mine = {
        i: (probe_duration(paths[i]), file_size(paths[i])) for i in range(group.rank, len(paths), group.world_size)
    }
    probed: dict[int, tuple[float | None, int | None]] = {}
    for part in group.all_gather(mine):
        probed.update(part)
    return file_costs([probed[i][0] for i in range(len(paths))], [probed[i][1] for i in range(len(paths))])


def balanced_shares(costs: Sequence[float], keys: Sequence[str], num_shares: int) -> list[list[int]]:
    """
    Splits the items `0..len(costs)-1` into `num_shares` shares of about equal total cost: greedy
    longest-processing-time (costliest item first, to the share with the least cost so far; equal costs in `keys`
    order, equal loads to the lowest share). Each share lists its items in increasing order; together they hold
    every item once.
    """
    if num_shares < 1:
        raise ValueError(f"num_shares must be >= 1, got {num_shares}.")
    if len(keys) != len(costs):
        raise ValueError(f"Got {len(keys)} keys for {len(costs)} costs.")
    shares: list[list[int]] = [[] for _ in range(num_shares)]
    loads = [(0.0, share) for share in range(num_shares)]  # a heap of (cost so far, share)
    for item in sorted(range(len(costs)), key=lambda i: (-costs[i], keys[i], i)):
        load, share = heapq.heappop(loads)
        shares[share].append(item)
        heapq.heappush(loads, (load + costs[item], share))
    return [sorted(share) for share in shares]


def my_share(paths: Sequence[str], group: ProcessGroup) -> list[int]:
    """The indices into `paths` that this process handles (all of them in one process), by [`balanced_shares`]
    of their [`probe_costs`]."""
    if not group.is_distributed:
        return list(range(len(paths)))
    costs = probe_costs(paths, group)
    return balanced_shares(costs, [os.path.abspath(p) for p in paths], group.world_size)[group.rank]


__all__ = [
    "BARRIER_TIMEOUT",
    "ProcessGroup",
    "balanced_shares",
    "file_costs",
    "file_size",
    "my_share",
    "probe_costs",
]
