"""The training loader: the DataModule's seeded per-epoch order, made resumable mid-epoch.

Lightning saves the `state_dict()` of a stateful train loader in every checkpoint and hands it back through
`load_state_dict()` before iterating again. The state is (epoch, micro-batches already trained this epoch); the
position comes from the trainer's batch progress, not from what the loader yielded, because Lightning prefetches
a batch ahead of the one being trained. Resuming then skips exactly the trained batches of that epoch's order."""

from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader, Dataset

from ..data.datamodule import RetlabDataModule, ShardedSampler


class ResumableLoader:
    """Iterates `dataset` in the order of `ShardedSampler` (seed, epoch, rank), full batches only."""

    def __init__(self, dataset: Dataset, batch_size: int, seed: int, num_workers: int = 0):
        self.dataset, self.batch_size, self.seed, self.num_workers = dataset, batch_size, seed, num_workers
        self.epoch, self.start = 0, 0
        self.trainer = None
        """Set once the Trainer exists: rank, world size and batch progress are read from it."""

    def _shard(self) -> ShardedSampler:
        rank, world = (self.trainer.global_rank, self.trainer.world_size) if self.trainer else (0, 1)
        sampler = ShardedSampler(len(self.dataset), rank, world, shuffle=True, seed=self.seed, pad=False)
        sampler.set_epoch(self.epoch)
        return sampler

    @property
    def sampler(self) -> "ResumableLoader":
        # Lightning calls `loader.sampler.set_epoch(epoch)` at each epoch start; the loader is its own sampler.
        return self

    def set_epoch(self, epoch: int) -> None:
        if epoch != self.epoch:
            self.epoch, self.start = epoch, 0

    def __len__(self) -> int:
        return len(self._shard()) // self.batch_size  # full batches: every step has the same batch size

    def __iter__(self) -> Iterator:
        order = self._shard().indices().tolist()[self.start * self.batch_size : len(self) * self.batch_size]
        self.start = 0  # a skip applies once, to the iteration right after a resume
        # An own generator: DataLoader otherwise draws its worker seed from the global RNG at every iter(), and a
        # resumed run calls iter() at a different point than an uninterrupted one (dropout would then diverge).
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        loader = DataLoader(
            self.dataset,
            batch_size=self.batch_size,
            sampler=order,
            num_workers=self.num_workers,
            generator=generator,
        )
        return iter(loader)

    def batches_done(self) -> int:
        if self.trainer is None:
            return 0
        return self.trainer.fit_loop.epoch_loop.batch_progress.current.processed

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "batches_done": int(self.batches_done())}

    def load_state_dict(self, state: dict) -> None:
        done = state["batches_done"]
        if done >= len(self):  # saved on the epoch's last batch: the next epoch starts from its beginning
            self.epoch, self.start = state["epoch"] + 1, 0
        else:
            self.epoch, self.start = state["epoch"], done


class ResumableDataModule(RetlabDataModule):
    """The DataModule with a resumable train loader; validation and test loaders are the DataModule's own."""

    def train_dataloader(self) -> ResumableLoader:
        loader = ResumableLoader(
            self.dataset("train"), self.batch_size, self.cfg.seed, self.cfg.data.num_workers
        )
        loader.trainer = self.trainer
        return loader
