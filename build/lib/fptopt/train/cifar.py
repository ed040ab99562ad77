"""CIFAR-10 and CIFAR-100, the paper's image datasets, held in memory.

Both are read through ``torchvision.datasets.CIFAR10``/``CIFAR100`` from
their official on-disk format (``<root>/cifar-10-batches-py/`` or
``<root>/cifar-100-python/``, python pickles) and kept in memory as float32
NCHW tensors, normalized per channel with the reference recipe's constants
on the 0–255 scale::

    mean = (125.307, 122.961, 113.8575),  std = (51.5865, 50.847, 51.255)

No data augmentation (the recipe has none). The official train/test split is
used as is (50,000 / 10,000 images). The training set takes 50,000×3×32×32×4
bytes ≈ 614 MB in memory (and on the GPU once the trainer moves it there).

Offline first: nothing is downloaded unless ``data.options.download: true``.
If the extracted folder is missing but the ``.tar.gz`` archive lies in
``root``, it is checked (MD5) and extracted. A missing dataset raises
:class:`FileNotFoundError` naming the expected paths and how to fetch them; a
corrupt archive or batch file raises :class:`ValueError` naming the file.
``root`` is relative to the working directory (the Snakemake ``--directory``).
"""

from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path

import numpy as np
import torch

from .data import Dataset, register_dataset

CIFAR_MEAN = (125.307, 122.961, 113.8575)
CIFAR_STD = (51.5865, 50.847, 51.255)


def _torchvision_class(name: str):
    """The torchvision dataset class of ``cifar10`` or ``cifar100`` (imported lazily)."""
    from torchvision.datasets import CIFAR10, CIFAR100

    return {"cifar10": CIFAR10, "cifar100": CIFAR100}[name]


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _how_to_fetch(cls, root: Path) -> str:
    return (
        f"To fetch it, either set data.options.download: true on a machine with internet access "
        f"(torchvision downloads {cls.url} into {root}/), or download that archive yourself and put it at "
        f"{root / cls.filename} (it is checked and extracted on first use)."
    )


def _download(cls, root: Path) -> None:
    """torchvision's download (skipped when the extracted files are intact)."""
    try:
        cls(str(root), train=True, download=True)
    except Exception as error:  # URLError, OSError, torchvision's RuntimeError on a bad MD5
        raise FileNotFoundError(
            f"data.options.download: could not download {cls.url} into {root}/ ({type(error).__name__}: {error}). "
            f"Without internet access, copy the archive to {root / cls.filename} and set download: false."
        ) from error


def _extract(cls, archive: Path, root: Path) -> None:
    """Check the archive's MD5 against torchvision's and extract it into ``root``."""
    from torchvision.datasets.utils import extract_archive

    found = _md5(archive)
    if found != cls.tgz_md5:
        raise ValueError(
            f"{archive}: corrupt or not the official archive (MD5 {found}, expected {cls.tgz_md5}). "
            f"Delete it and fetch it again from {cls.url}."
        )
    try:
        extract_archive(str(archive), str(root))
    except (tarfile.TarError, EOFError, OSError) as error:
        raise ValueError(f"{archive}: cannot be extracted ({error}). "
                         f"Delete it and fetch it again from {cls.url}.") from error


def _diagnose(cls, root: Path) -> None:
    """Raise the error naming the first missing or corrupt file of the dataset folder."""
    folder = root / cls.base_folder
    expected = [(name, md5) for name, md5 in cls.train_list + cls.test_list] + [(cls.meta["filename"], cls.meta["md5"])]
    for name, md5 in expected:
        path = folder / name
        if not path.is_file():
            raise FileNotFoundError(
                f"{path}: missing from the dataset folder {folder}. Delete the folder and extract the archive again. "
                + _how_to_fetch(cls, root)
            )
        found = _md5(path)
        if found != md5:
            raise ValueError(
                f"{path}: corrupt (MD5 {found}, expected {md5}). Delete {folder} and extract the archive again. "
                + _how_to_fetch(cls, root)
            )


def ensure_cifar_files(name: str, root: str | Path = "data/", download: bool = False) -> Path:
    """Make sure ``<root>/<base_folder>`` holds the dataset; return that folder.

    Order: download when asked; otherwise extract a local archive when the
    folder is missing; otherwise raise :class:`FileNotFoundError` naming both
    paths that were looked for.
    """
    cls = _torchvision_class(name)
    root = Path(root)
    folder, archive = root / cls.base_folder, root / cls.filename
    if download:
        _download(cls, root)
    if not folder.is_dir():
        if not archive.is_file():
            raise FileNotFoundError(
                f"data.name {name}: dataset not found: neither the folder {folder} nor the archive {archive} "
                f"exists (data.options.root = {str(root)!r}, relative to the working directory). "
                + _how_to_fetch(cls, root)
            )
        _extract(cls, archive, root)
    return folder


def _to_normalized_nchw(images: np.ndarray) -> torch.Tensor:
    """uint8 NHWC → float32 NCHW, normalized in place with the recipe's constants."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).to(torch.float32).contiguous()
    mean = torch.tensor(CIFAR_MEAN, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR_STD, dtype=torch.float32).view(1, 3, 1, 1)
    return x.sub_(mean).div_(std)


def _digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()[:16]


def load_cifar(name: str, root: str | Path = "data/", download: bool = False) -> Dataset:
    """Load ``cifar10`` or ``cifar100`` (official split) as a :class:`Dataset`."""
    if not isinstance(download, bool):
        raise ValueError(f"data.options.download: expected true or false, got {download!r}")
    cls = _torchvision_class(name)
    root = Path(root)
    ensure_cifar_files(name, root, download)
    try:
        train = cls(str(root), train=True, download=False)
        test = cls(str(root), train=False, download=False)
    except RuntimeError:  # torchvision's "not found or corrupted": say which file
        _diagnose(cls, root)
        raise
    y_train = np.asarray(train.targets, dtype=np.int64)
    y_test = np.asarray(test.targets, dtype=np.int64)
    num_classes = len(train.classes)
    split = {
        "split": "official",
        "source": str(root / cls.base_folder),
        "n_train": int(y_train.size),
        "n_test": int(y_test.size),
        "test_indices_sha256": _digest(np.arange(y_test.size, dtype=np.int64)),
        "test_labels_sha256": _digest(y_test),
        "normalization": {"mean": list(CIFAR_MEAN), "std": list(CIFAR_STD)},
    }
    return Dataset(
        name,
        x_train=_to_normalized_nchw(train.data),
        y_train=torch.from_numpy(y_train),
        x_test=_to_normalized_nchw(test.data),
        y_test=torch.from_numpy(y_test),
        task="classification",
        num_classes=num_classes,
        split=split,
    )


def _reject_unknown(name: str, unknown: dict) -> None:
    if unknown:
        raise ValueError(
            f"data.options: unknown option(s) {sorted(unknown)} for dataset {name}; known: ['download', 'root']."
        )


@register_dataset("cifar10")
def load_cifar10(root: str = "data/", download: bool = False, **unknown) -> Dataset:
    """CIFAR-10: 50,000 training and 10,000 test 32×32 colour images, 10 classes."""
    _reject_unknown("cifar10", unknown)
    return load_cifar("cifar10", root, download)


@register_dataset("cifar100")
def load_cifar100(root: str = "data/", download: bool = False, **unknown) -> Dataset:
    """CIFAR-100 (fine labels): 50,000 training and 10,000 test images, 100 classes."""
    _reject_unknown("cifar100", unknown)
    return load_cifar("cifar100", root, download)
