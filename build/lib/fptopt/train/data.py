"""Datasets, held in memory as tensors, with a fixed and recorded split.

Every loader returns a :class:`Dataset`: train/test tensors plus the
description of how they were made (source, split seed, test indices), so
the outputs downstream can record exactly which examples were held out.
Datasets are registered by name; the config picks one with ``data.name``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import torch

from .registry import Registry

DATASETS = Registry("dataset", "data.name")


def register_dataset(name: str):
    """Decorator adding a dataset loader to the registry under ``name``."""
    return DATASETS.register(name)


@dataclass(frozen=True)
class Dataset:
    """A train/test split in memory.

    ``task`` is ``"classification"`` (integer labels, ``num_classes`` set) or
    ``"regression"`` (float targets of shape (n, 1)). ``split`` records how
    the split was made (seed, sizes, a hash of the test indices).
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    task: str
    num_classes: int | None = None
    split: dict = field(default_factory=dict)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def output_dim(self) -> int:
        return self.num_classes if self.task == "classification" else int(self.y_train.shape[1])

    def to(self, device: torch.device | str) -> "Dataset":
        moved = {k: getattr(self, k).to(device) for k in ("x_train", "y_train", "x_test", "y_test")}
        return Dataset(self.name, task=self.task, num_classes=self.num_classes, split=self.split, **moved)


def load_dataset(name: str, **options) -> Dataset:
    """Load a registered dataset by name; unknown names list the known ones."""
    return DATASETS.lookup(name)(**options)


def _indices_digest(indices: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(indices, dtype=np.int64).tobytes()).hexdigest()[:16]


def _split_record(seed: int, train_idx: np.ndarray, test_idx: np.ndarray) -> dict:
    return {
        "split_seed": int(seed),
        "n_train": int(train_idx.size),
        "n_test": int(test_idx.size),
        "test_indices_sha256": _indices_digest(np.sort(test_idx)),
    }


def _standardize(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scale features with the training set's statistics only (no test leakage)."""
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    std[std == 0] = 1.0  # constant pixels (digits' borders) stay at zero
    return (train - mean) / std, (test - mean) / std


@register_dataset("digits")
def load_digits(test_size: int = 597, split_seed: int = 0) -> Dataset:
    """scikit-learn's 8×8 handwritten digits (1,797 images, ships with the package).

    A stratified split with ``test_size`` test images; pixels standardized
    with the training statistics. Inputs are flat vectors of 64 features.
    """
    from sklearn.datasets import load_digits as sk_load_digits
    from sklearn.model_selection import train_test_split

    bunch = sk_load_digits()
    n = bunch.data.shape[0]
    if not 10 <= test_size <= n - 10:
        raise ValueError(f"data.test_size: expected between 10 and {n - 10}, got {test_size}")
    train_idx, test_idx = train_test_split(
        np.arange(n), test_size=test_size, stratify=bunch.target, random_state=split_seed
    )
    x_train, x_test = _standardize(bunch.data[train_idx], bunch.data[test_idx])
    return Dataset(
        "digits",
        x_train=torch.tensor(x_train, dtype=torch.float32),
        y_train=torch.tensor(bunch.target[train_idx], dtype=torch.long),
        x_test=torch.tensor(x_test, dtype=torch.float32),
        y_test=torch.tensor(bunch.target[test_idx], dtype=torch.long),
        task="classification",
        num_classes=10,
        split=_split_record(split_seed, train_idx, test_idx),
    )


@register_dataset("diabetes")
def load_diabetes(test_size: int = 142, split_seed: int = 0) -> Dataset:
    """scikit-learn's diabetes regression data (442 patients, 10 features).

    Features and the target are standardized with training statistics, so the
    test mean-squared error is in units of the target's variance.
    """
    from sklearn.datasets import load_diabetes as sk_load_diabetes
    from sklearn.model_selection import train_test_split

    bunch = sk_load_diabetes()
    n = bunch.data.shape[0]
    if not 10 <= test_size <= n - 10:
        raise ValueError(f"data.test_size: expected between 10 and {n - 10}, got {test_size}")
    train_idx, test_idx = train_test_split(np.arange(n), test_size=test_size, random_state=split_seed)
    x_train, x_test = _standardize(bunch.data[train_idx], bunch.data[test_idx])
    y_train, y_test = _standardize(bunch.target[train_idx, None], bunch.target[test_idx, None])
    return Dataset(
        "diabetes",
        x_train=torch.tensor(x_train, dtype=torch.float32),
        y_train=torch.tensor(y_train, dtype=torch.float32),
        x_test=torch.tensor(x_test, dtype=torch.float32),
        y_test=torch.tensor(y_test, dtype=torch.float32),
        task="regression",
        split=_split_record(split_seed, train_idx, test_idx),
    )
