"""MNIST from its four IDX files: decoded once into uint8 tensors, served in whole batches."""

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from torch.utils.data import DataLoader, Dataset

from digit_recognizer.config import validate
from digit_recognizer.data.mnist_files import ensure_files, load_split
from digit_recognizer.data.settings import DataConfig
from digit_recognizer.errors import UserError
from digit_recognizer.labels import NOT_DIGIT
from digit_recognizer.synthetic import cache
from digit_recognizer.synthetic.non_digits import training_negatives
from digit_recognizer.synthetic.rows import cut_parts
from digit_recognizer.synthetic.styles import STYLES, robustness_set, training_pool

# Styled validation digits, rendered once per split and machine (the data folder may be
# read-only or shared).


class InMemoryDigits(Dataset):
    """Images and labels held as tensors; a whole batch is one indexing operation."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images = images
        self.labels = labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[index], self.labels[index]

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        # DataLoader hands the batch's indices here, skipping per-sample Python work and collation.
        index = torch.as_tensor(indices, device=self.labels.device)
        return self.images[index], self.labels[index]


def random_affine(
    images: torch.Tensor, degrees: float = 10.0, translate: float = 0.1, scale: float = 0.1
) -> torch.Tensor:
    """Each image of a batch rotated, shifted and scaled at random; returns floats in [0, 1].

    ``translate`` is a fraction of the image size, ``scale`` the +/- range around 1. One
    ``affine_grid``/``grid_sample`` call serves the whole batch, on whatever device it is.
    """
    x = images.float().div(255.0) if images.dtype == torch.uint8 else images.float()
    count = x.shape[0]
    angle = (torch.rand(count, device=x.device) * 2 - 1) * math.radians(degrees)
    zoom = 1 + (torch.rand(count, device=x.device) * 2 - 1) * scale
    shift = (torch.rand(count, 2, device=x.device) * 2 - 1) * translate * 2  # grid spans [-1, 1]
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _swap_in(
    images: torch.Tensor,
    labels: torch.Tensor,
    pools: list[tuple[InMemoryDigits, float]],
) -> tuple[torch.Tensor, torch.Tensor]:
    """A copy of the batch with, for each (pool, share), the next ``share`` of it replaced by
    random images of that pool, with their labels (the pools take turns from the front)."""
    images, labels = images.clone(), labels.clone()
    start = 0
    for pool, share in pools:
        count = min(round(share * len(labels)), len(labels) - start)
        if count <= 0 or len(pool) == 0:
            continue
        pick = torch.randint(len(pool), (count,), device=pool.labels.device)
        where = slice(start, start + count)
        images[where] = pool.images[pick].to(images.device, images.dtype)
        labels[where] = pool.labels[pick].to(labels.device)
        start += count
    return images, labels


def keep_batch(batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Collate function for ``InMemoryDigits``: the batch is already stacked."""
    return batch


def _plain(value: Any) -> Any:
    """A setting as the schema reads it: a Hydra list or tuple as a list."""
    return list(value) if isinstance(value, Sequence) and not isinstance(value, str) else value


class MNISTDataModule(L.LightningDataModule):
    """The official MNIST split: a seeded train/validation cut of the 60,000, and the 10,000 test."""

    def __init__(
        self,
        root: str = "data",
        batch_size: int = 64,
        eval_batch_size: int = 1000,
        val_size: int = 5000,
        split_seed: int = 42,
        download: bool = True,
        mirrors: Sequence[str] | None = None,
        verify_md5: bool = True,
        num_workers: int = 0,
        pin_memory: bool = False,
        keep_on_device: bool = True,
        augment: bool = False,
        augment_degrees: float = 10.0,
        augment_translate: float = 0.1,
        augment_scale: float = 0.1,
        robust_size: int = 500,
        robust_styles: Sequence[str] | None = None,
        style_share: float = 0.0,
        style_pool: int = 20000,
        not_digit_share: float = 0.0,
        not_digit_pool: int = 10000,
        cut_share: float = 0.0,
        cut_pool: int = 20000,
        cut_pairs: bool = False,
    ) -> None:
        super().__init__()
        settings = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        validate(DataConfig, {k: _plain(v) for k, v in settings.items()}, within="data")
        self.root = Path(root).expanduser()
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.val_size = val_size
        self.split_seed = split_seed
        self.download = download
        self.mirrors = list(mirrors) if mirrors else None
        self.verify_md5 = verify_md5
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.keep_on_device = keep_on_device
        self.augment = augment
        self.augment_args = {
            "degrees": augment_degrees,
            "translate": augment_translate,
            "scale": augment_scale,
        }
        self.robust_size = robust_size
        self.robust_styles = list(robust_styles) if robust_styles else list(STYLES)
        self._robust: dict[str, InMemoryDigits] | None = None
        self.style_share = style_share
        self.style_pool = style_pool
        self.styled_train: InMemoryDigits | None = None
        self.not_digit_share = not_digit_share
        self.not_digit_pool = not_digit_pool
        self.negatives: InMemoryDigits | None = None
        self.cut_share = cut_share
        self.cut_pool = cut_pool
        self.cut_pairs = bool(cut_pairs)
        self.cuts: InMemoryDigits | None = None
        self.train_set: InMemoryDigits | None = None
        self.val_set: InMemoryDigits | None = None
        self.test_set: InMemoryDigits | None = None

    @classmethod
    def from_config(cls, node: Mapping[str, Any]) -> "MNISTDataModule":
        """The module a config's ``data`` node describes (its Hydra ``_target_`` left out):
        for scripts that need the data without training, with the same checks and messages."""
        return cls(**{key: value for key, value in node.items() if key != "_target_"})

    def prepare_data(self) -> None:
        ensure_files(self.root, self.download, self.mirrors)

    def setup(self, stage: str | None = None) -> None:
        raw_dir = ensure_files(self.root, self.download, self.mirrors)  # finds them first
        if stage in (None, "fit", "validate") and self.train_set is None:
            images, labels = load_split(raw_dir, "train", self.verify_md5)
            if self.val_size >= len(labels):
                raise UserError(
                    f"data.val_size={self.val_size} leaves no training images out of {len(labels)}."
                )
            # A fixed split seed keeps the validation set identical across training seeds.
            order = torch.randperm(
                len(labels), generator=torch.Generator().manual_seed(self.split_seed)
            )
            val_idx, train_idx = order[: self.val_size], order[self.val_size :]
            self.train_set = InMemoryDigits(images[train_idx], labels[train_idx])
            self.val_set = InMemoryDigits(images[val_idx], labels[val_idx])
            if self.style_share > 0:
                chosen, styled = training_pool(
                    self.train_set.images.numpy(), self.style_pool, self.split_seed, cache.CACHE_DIR
                )
                self.styled_train = InMemoryDigits(
                    torch.from_numpy(styled).unsqueeze(1), self.train_set.labels[chosen]
                )
            if self.not_digit_share > 0:
                pool = training_negatives(self.not_digit_pool, self.split_seed, cache.CACHE_DIR)
                self.negatives = InMemoryDigits(
                    torch.from_numpy(pool).unsqueeze(1), torch.full((len(pool),), NOT_DIGIT)
                )
            if self.cut_share > 0:
                parts, classes = cut_parts(
                    self.train_set.images.numpy(),
                    self.train_set.labels.numpy(),
                    self.cut_pool,
                    self.split_seed,
                    cache.CACHE_DIR,
                    self.cut_pairs,
                )
                self.cuts = InMemoryDigits(
                    torch.from_numpy(parts).unsqueeze(1), torch.from_numpy(classes)
                )
        if stage in (None, "test", "predict") and self.test_set is None:
            self.test_set = InMemoryDigits(*load_split(raw_dir, "test", self.verify_md5))
        self._move_to_accelerator()

    def robustness_sets(self) -> dict[str, InMemoryDigits]:
        """The first ``robust_size`` validation digits re-drawn in each style and read back as
        a user's image would be (``synthetic.styles``), on the CPU; empty when turned off. Rendered
        once per split and kept in ``synthetic.cache.CACHE_DIR``."""
        if self.val_set is None or self.robust_size == 0:
            return {}
        if self._robust is None:
            count = min(self.robust_size, len(self.val_set))
            styled = robustness_set(
                self.val_set.images[:count].cpu().numpy(),
                self.robust_styles,
                count,
                cache_dir=cache.CACHE_DIR,
            )
            labels = self.val_set.labels[:count].cpu()
            self._robust = {
                style: InMemoryDigits(torch.from_numpy(images).unsqueeze(1), labels)
                for style, images in styled.items()
            }
        return self._robust

    def _move_to_accelerator(self) -> None:
        # All of MNIST is 55 MB: on a GPU, keep it there and batches never cross the bus.
        device = self.trainer.strategy.root_device if self.trainer else None
        if not self.keep_on_device or device is None or device.type == "cpu":
            return
        for dataset in (
            self.train_set,
            self.val_set,
            self.test_set,
            self.styled_train,
            self.negatives,
            self.cuts,
        ):
            if dataset is not None and dataset.images.device != device:
                dataset.images, dataset.labels = (
                    dataset.images.to(device),
                    dataset.labels.to(device),
                )

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        # Augment training batches only, already on the device, as one batched operation.
        # (Lightning also hands the model summary's example input through here: a bare tensor.)
        training = self.trainer is not None and self.trainer.training
        if not training or not isinstance(batch, list | tuple) or len(batch) != 2:
            return batch
        images, labels = self._mixed(*batch)
        if self.augment:
            images = random_affine(images, **self.augment_args)
        return images, labels

    def _mixed(
        self, images: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch with its shares swapped, from the front: styled training digits, cut
        parts, non-digits (each with its own label)."""
        pools = [
            (pool, share)
            for pool, share in (
                (self.styled_train, self.style_share),
                (self.cuts, self.cut_share),
                (self.negatives, self.not_digit_share),
            )
            if pool is not None
        ]
        return _swap_in(images, labels, pools) if pools else (images, labels)

    def train_dataloader(self) -> DataLoader:
        assert self.train_set is not None, "call setup('fit') first"
        return self._loader(self.train_set, self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        assert self.val_set is not None, "call setup('fit') first"
        return self._loader(self.val_set, self.eval_batch_size, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        assert self.test_set is not None, "call setup('test') first"
        return self._loader(self.test_set, self.eval_batch_size, shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self.test_dataloader()

    def _loader(self, dataset: InMemoryDigits, batch_size: int, shuffle: bool) -> DataLoader:
        sampler = None
        if not shuffle and self.trainer is not None and self.trainer.world_size > 1:
            # Lightning's default DistributedSampler pads the shares to equal length, counting up
            # to world_size - 1 images twice; disjoint unpadded shares keep synced metrics exact.
            sampler = UnrepeatedDistributedSampler(
                dataset,
                num_replicas=self.trainer.world_size,
                rank=self.trainer.global_rank,
                shuffle=False,
            )
        return DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=shuffle,
            sampler=sampler,
            collate_fn=keep_batch,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
        )
