"""Mini-batches from an in-memory split, with no per-sample Python.

An epoch's order is a permutation drawn from (seed, epoch) alone, so any process can
recompute it: this is what lets a resumed run continue mid-epoch with exactly the
batches it would have seen, and lets each DDP rank take its own shard without
communication.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch

from genlab.data.preprocessing import Preprocessing

DEVICE_COPY_LIMIT_BYTES = 2 << 30  # splits up to this size are moved to the accelerator once


@dataclass
class Batch:
    x: torch.Tensor  # (B, ...) model inputs, float32
    y: torch.Tensor | None  # (B,) int64 class labels, when the data has them


class BatchLoader:
    """Batches of one split for one process of `world_size`."""

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor | None,
        preprocessing: Preprocessing,
        *,
        batch_size: int,
        shuffle: bool,
        drop_last: bool,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        device: torch.device | str = "cpu",
    ):
        self.device = torch.device(device)
        storage = self.device if x.nbytes <= DEVICE_COPY_LIMIT_BYTES else torch.device("cpu")
        self.x = x.to(storage)
        self.y = y.to(storage) if y is not None else None
        self.preprocessing = preprocessing
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        # training shards are cut to equal length so that every rank takes the same number of steps
        self.shard_size = len(x) // world_size if drop_last else len(range(rank, len(x), world_size))

    def __len__(self) -> int:
        if self.drop_last:
            return self.shard_size // self.batch_size
        return -(-self.shard_size // self.batch_size)

    @property
    def samples_per_epoch(self) -> int:
        return len(self) * self.batch_size if self.drop_last else self.shard_size

    def order(self, epoch: int) -> torch.Tensor | None:
        """This rank's sample indices for `epoch` (None: the split in storage order)."""
        if not self.shuffle and self.world_size == 1:
            return None
        if self.shuffle:
            generator = torch.Generator().manual_seed((self.seed * 1_000_003 + epoch) % (2**63))
            order = torch.randperm(len(self.x), generator=generator)
        else:
            order = torch.arange(len(self.x))
        if self.drop_last:
            order = order[self.rank * self.shard_size : (self.rank + 1) * self.shard_size]
        else:
            order = order[self.rank :: self.world_size]
        return order.to(self.x.device)

    def epoch(self, epoch: int = 0, start: int = 0) -> Iterator[Batch]:
        """Yield this epoch's batches, skipping the first `start` (for a resumed run)."""
        order = self.order(epoch)
        for index in range(start, len(self)):
            lo, hi = index * self.batch_size, min((index + 1) * self.batch_size, self.shard_size)
            if order is None:
                x, y = self.x[lo:hi], (self.y[lo:hi] if self.y is not None else None)
            else:
                picked = order[lo:hi]
                x, y = self.x[picked], (self.y[picked] if self.y is not None else None)
            x = x.to(self.device, non_blocking=True)
            y = y.to(self.device, non_blocking=True) if y is not None else None
            yield Batch(self.preprocessing(x), y)

    def __iter__(self) -> Iterator[Batch]:
        return self.epoch(0)
