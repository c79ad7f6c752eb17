"""Stage 4: `RetlabDataModule` serves the packed blocks (or MQAR examples) as ALIGNED (input_ids, labels) batches.

A block b of seq_len + 1 tokens gives input_ids = b[:-1] and labels = b[1:]: labels[t] is the target of position t.
Shuffling is a seeded permutation per epoch; under DDP every rank gets a disjoint shard of the same length (train
drops the < world_size leftover indices, val/test repeat a few so nothing is skipped), so no rank waits on a batch
the others do not have. The sampler subclasses DistributedSampler, so Lightning keeps it instead of wrapping it."""

from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from ..utils.files import read_json
from .info import SPLITS, DataInfo, open_blocks
from .mqar import labels_from


class BlockDataset(Dataset):
    """One split of packed blocks (memory-mapped, opened lazily so DataLoader workers each map it themselves)."""

    def __init__(self, data_dir: str | Path, split: str, task: str = "lm"):
        self.data_dir, self.split, self.task = Path(data_dir), split, task
        self.n = read_json(self.data_dir / f"{split}.json")["blocks"]
        self._blocks = self._masks = self._kv = None

    def __len__(self) -> int:
        return self.n

    def _open(self) -> None:
        self._blocks = open_blocks(self.data_dir, self.split)
        if self.task == "mqar":
            self._masks = np.load(self.data_dir / f"{self.split}.answer_mask.npy", mmap_mode="r")
            self._kv = np.load(self.data_dir / f"{self.split}.num_kv_pairs.npy", mmap_mode="r")

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        if self._blocks is None:
            self._open()
        block = np.asarray(self._blocks[i], dtype=np.int64)  # (T + 1,)
        if self.task == "mqar":
            labels = labels_from(block, self._masks[i])
            return {
                "input_ids": torch.from_numpy(block[:-1].copy()),
                "labels": torch.from_numpy(labels),
                "num_kv_pairs": torch.tensor(int(self._kv[i])),
            }
        return {
            "input_ids": torch.from_numpy(block[:-1].copy()),
            "labels": torch.from_numpy(block[1:].copy()),
        }


class ShardedSampler(DistributedSampler):
    """Seeded per-epoch order cut into equal per-rank shards (rank r takes positions r, r + W, r + 2W, ...).

    pad=False drops the last n % W indices (training); pad=True repeats the first ones up to a multiple of W
    (evaluation: every example is seen). Does not need torch.distributed: rank and world size are given."""

    def __init__(
        self,
        n: int,
        rank: int = 0,
        world_size: int = 1,
        shuffle: bool = True,
        seed: int = 0,
        pad: bool = False,
    ):
        # DistributedSampler.__init__ would query torch.distributed; set what Lightning and torch read instead.
        self.n, self.rank, self.num_replicas = n, rank, world_size
        self.shuffle, self.seed, self.pad, self.epoch = shuffle, seed, pad, 0
        self.drop_last = not pad
        self.total_size = -(-n // world_size) * world_size if pad else (n // world_size) * world_size
        self.num_samples = self.total_size // world_size
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is outside world size {world_size}")

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def indices(self) -> np.ndarray:
        """This rank's indices for the current epoch."""
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(self.n)
        else:
            order = np.arange(self.n)
        if self.n:  # cut to (train) or repeat from the start up to (eval) a multiple of the world size
            order = np.resize(order, self.total_size)
        return order[self.rank : self.total_size : self.num_replicas]

    def __iter__(self):
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return self.num_samples


class RetlabDataModule(L.LightningDataModule):
    """Train/validation/test DataLoaders over prepared data (`retlab.data.prepare`).

    Rank and world size come from the attached Trainer; without one, from `rank`/`world_size` (default 0/1)."""

    def __init__(
        self,
        cfg,
        info: DataInfo,
        rank: int | None = None,
        world_size: int | None = None,
        batch_size: int | None = None,
    ):
        super().__init__()
        self.cfg, self.info = cfg, info
        self.rank, self.world_size = rank, world_size
        self.batch_size = batch_size or cfg.train.batch_size
        self.datasets: dict[str, BlockDataset] = {}

    def dataset(self, split: str) -> BlockDataset:
        if split not in self.datasets:
            self.datasets[split] = BlockDataset(self.info.data_dir, split, self.info.task)
        return self.datasets[split]

    def setup(self, stage: str | None = None) -> None:
        for split in SPLITS:
            self.dataset(split)

    def _dist(self) -> tuple[int, int]:
        trainer = getattr(self, "trainer", None)
        if trainer is not None:
            return trainer.global_rank, trainer.world_size
        return self.rank or 0, self.world_size or 1

    def sampler(self, split: str) -> ShardedSampler:
        rank, world = self._dist()
        train = split == "train"
        return ShardedSampler(
            len(self.dataset(split)), rank, world, shuffle=train, seed=self.cfg.seed, pad=not train
        )

    def _loader(self, split: str) -> DataLoader:
        sampler = self.sampler(split)
        workers = self.cfg.data.num_workers
        return DataLoader(
            self.dataset(split),
            batch_size=self.batch_size,
            sampler=sampler,
            # Every rank has the same number of samples, hence of batches; a short last train batch is dropped
            # (when there is a full one) to keep the per-step batch size constant.
            drop_last=split == "train" and len(sampler) >= self.batch_size,
            num_workers=workers,
            persistent_workers=workers > 0,
            pin_memory=torch.cuda.is_available(),
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train")

    def val_dataloader(self) -> DataLoader:
        return self._loader("validation")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")
