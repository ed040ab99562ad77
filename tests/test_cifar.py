"""CIFAR loading through torchvision on tiny archives in the real on-disk format,
and ResNet-18 (CIFAR stem) as a stacked-replica template with BatchNorm buffers.

The fake archives hold random images in the exact layout torchvision reads
(python pickles in ``cifar-10-batches-py/`` / ``cifar-100-python/`` and the
``.tar.gz``). torchvision checks every file's MD5 against the official
archive's; only here, in the tests, the classes' checksum tables are replaced
by those of the fake files, so the product's real loading path runs unchanged.
"""

import copy
import hashlib
import pickle
import tarfile
import time
import urllib.error

import numpy as np
import pytest
import torch
from torch import nn
from torchvision.datasets import CIFAR10, CIFAR100

from fptopt.train import training
from fptopt.train.cifar import CIFAR_MEAN, CIFAR_STD
from fptopt.train.data import Dataset, load_dataset
from fptopt.train.models import build_model, draw_initial_state
from fptopt.train.protocols import Schedule, get_protocol

N_TRAIN, N_TEST = 130, 125  # batch 125: one step per epoch, the partial batch of 5 dropped


def _md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


def _dump(path, entry):
    with open(path, "wb") as handle:
        pickle.dump(entry, handle, protocol=2)


def _images(rng, n):
    return rng.integers(0, 256, size=(n, 3 * 32 * 32), dtype=np.uint8)


def make_cifar10(root, rng, n_train=N_TRAIN, n_test=N_TEST):
    """Write a CIFAR-10 lookalike under root; return {file: md5} and the arrays."""
    folder = root / CIFAR10.base_folder
    folder.mkdir(parents=True)
    data, labels = _images(rng, n_train), rng.integers(0, 10, n_train).tolist()
    per_batch = n_train // 5
    for i in range(5):
        rows = slice(i * per_batch, (i + 1) * per_batch)
        _dump(folder / f"data_batch_{i + 1}", {"batch_label": f"training batch {i + 1} of 5", "labels": labels[rows],
                                              "data": data[rows], "filenames": [f"{j}.png" for j in range(per_batch)]})
    test, test_labels = _images(rng, n_test), rng.integers(0, 10, n_test).tolist()
    _dump(folder / "test_batch", {"batch_label": "testing batch 1 of 1", "labels": test_labels, "data": test,
                                  "filenames": [f"{j}.png" for j in range(n_test)]})
    _dump(folder / "batches.meta", {"label_names": [f"class{k}" for k in range(10)],
                                    "num_cases_per_batch": per_batch, "num_vis": 3072})
    return folder, (data, labels, test, test_labels)


def make_cifar100(root, rng, n_train=N_TRAIN, n_test=N_TEST):
    folder = root / CIFAR100.base_folder
    folder.mkdir(parents=True)
    for split, n in (("train", n_train), ("test", n_test)):
        _dump(folder / split, {"data": _images(rng, n), "fine_labels": rng.integers(0, 100, n).tolist(),
                               "coarse_labels": rng.integers(0, 20, n).tolist(),
                               "filenames": [f"{j}.png" for j in range(n)], "batch_label": split})
    _dump(folder / "meta", {"fine_label_names": [f"fine{k}" for k in range(100)],
                            "coarse_label_names": [f"coarse{k}" for k in range(20)]})
    return folder


def make_archive(root, cls, folder):
    archive = root / cls.filename
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=cls.base_folder)
    return archive


def trust_fake_files(monkeypatch, cls, folder, archive=None):
    """Point torchvision's checksum tables of ``cls`` at the fake files (tests only)."""
    monkeypatch.setattr(cls, "train_list", [[name, _md5(folder / name)] for name, _ in cls.train_list])
    monkeypatch.setattr(cls, "test_list", [[name, _md5(folder / name)] for name, _ in cls.test_list])
    monkeypatch.setattr(cls, "meta", {**cls.meta, "md5": _md5(folder / cls.meta["filename"])})
    if archive is not None:
        monkeypatch.setattr(cls, "tgz_md5", _md5(archive))


@pytest.fixture
def fake_cifar10(tmp_path, monkeypatch):
    folder, arrays = make_cifar10(tmp_path, np.random.default_rng(0))
    trust_fake_files(monkeypatch, CIFAR10, folder)
    return tmp_path, arrays


def _normalized(flat):
    images = torch.tensor(flat, dtype=torch.float32).view(-1, 3, 32, 32)
    return (images - torch.tensor(CIFAR_MEAN).view(1, 3, 1, 1)) / torch.tensor(CIFAR_STD).view(1, 3, 1, 1)


def test_cifar10_loads_normalized_nchw_float32(fake_cifar10):
    root, (data, labels, test, test_labels) = fake_cifar10
    dataset = load_dataset("cifar10", root=str(root))
    assert dataset.x_train.shape == (N_TRAIN, 3, 32, 32) and dataset.x_train.dtype == torch.float32
    assert dataset.x_test.shape == (N_TEST, 3, 32, 32) and dataset.y_train.dtype == torch.long
    assert dataset.num_classes == 10 and dataset.output_dim == 10 and dataset.task == "classification"
    torch.testing.assert_close(dataset.x_train, _normalized(data))  # CHW order preserved
    torch.testing.assert_close(dataset.x_test, _normalized(test))
    assert dataset.y_train.tolist() == labels and dataset.y_test.tolist() == test_labels
    assert dataset.split["split"] == "official" and dataset.split["n_test"] == N_TEST


def test_archive_is_checked_and_extracted_when_the_folder_is_missing(tmp_path, monkeypatch):
    build = tmp_path / "build"
    folder = make_cifar100(build, np.random.default_rng(1))
    root = tmp_path / "data"
    root.mkdir()
    archive = make_archive(root, CIFAR100, folder)
    trust_fake_files(monkeypatch, CIFAR100, folder, archive)
    dataset = load_dataset("cifar100", root=str(root))
    assert (root / CIFAR100.base_folder / "train").is_file()
    assert dataset.num_classes == 100 and dataset.x_train.shape == (N_TRAIN, 3, 32, 32)
    assert int(dataset.y_train.max()) < 100


def test_missing_dataset_names_the_expected_paths_and_how_to_fetch(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        load_dataset("cifar10", root=str(tmp_path / "nowhere"))
    message = str(info.value)
    assert "cifar-10-batches-py" in message and "cifar-10-python.tar.gz" in message
    assert "download: true" in message and CIFAR10.url in message


def test_corrupt_archive_is_named(tmp_path):
    archive = tmp_path / CIFAR10.filename
    archive.write_bytes(b"not a tar.gz at all")
    with pytest.raises(ValueError, match="cifar-10-python.tar.gz: corrupt"):
        load_dataset("cifar10", root=str(tmp_path))


def test_corrupt_or_missing_batch_file_is_named(fake_cifar10):
    root, _ = fake_cifar10
    batch = root / CIFAR10.base_folder / "data_batch_3"
    batch.write_bytes(batch.read_bytes()[:-10])
    with pytest.raises(ValueError, match=r"data_batch_3: corrupt"):
        load_dataset("cifar10", root=str(root))
    batch.unlink()
    with pytest.raises(FileNotFoundError, match=r"data_batch_3: missing"):
        load_dataset("cifar10", root=str(root))


def test_offline_download_gives_a_clear_error(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr("torchvision.datasets.cifar.download_and_extract_archive", offline)
    with pytest.raises(FileNotFoundError, match="could not download .*cifar-10-python.tar.gz"):
        load_dataset("cifar10", root=str(tmp_path), download=True)


def test_resnet18_cifar_structure():
    model = build_model("resnet18_cifar", (3, 32, 32), 10)
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1)
    assert not any(isinstance(m, nn.MaxPool2d) for m in model.modules())
    assert [len(getattr(model, f"layer{i}")) for i in range(1, 5)] == [2, 2, 2, 2]
    assert sum(p.numel() for p in model.parameters()) == 11_173_962  # the standard CIFAR ResNet-18
    with pytest.raises(ValueError, match="resnet18_cifar"):
        build_model("resnet18_cifar", (64,), 10)


@pytest.mark.parametrize("engine, channels_last", [("vmap", None), ("loop", False), ("loop", True)])
def test_batchnorm_buffers_of_the_stack_match_a_plain_module(engine, channels_last):
    """Stacked running statistics are updated per replica exactly as nn.Module does
    it (float64 model, so only rounding separates the two), under vmap and under
    the loop engine, whose slices may be channels-last."""
    generator = torch.Generator().manual_seed(0)
    # 16x16 images and width 4 keep every layer (and the stride-2 shortcuts) at a
    # size the CPU runs in seconds under vmap's grouped convolutions.
    x = torch.randn(64, 3, 16, 16, generator=generator, dtype=torch.float64)
    y = torch.randint(0, 10, (64,), generator=generator)
    dataset = Dataset("fake", x, y, x[:32].clone(), y[:32].clone(), "classification", 10)
    template = build_model("resnet18_cifar", (3, 16, 16), 10, width=4).double()
    seeds = [11, 22]
    settings = training.TrainSettings(epochs=1, batch_size=16, optimizer_options={"lr": 0.01, "momentum": 0.9},
                             engine=engine, channels_last=channels_last)
    stack = training.ReplicaStack(template, dataset, seeds, settings)
    if channels_last:
        assert stack.params["conv1.weight"][0].is_contiguous(memory_format=torch.channels_last)
    stack.run_epoch(None)
    for k, seed in enumerate(seeds):
        model = copy.deepcopy(template)
        model.load_state_dict(draw_initial_state(template, training.replica_generator(seed, training.INIT_STREAM)))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        order = torch.randperm(64, generator=training.replica_generator(seed, training.DATA_STREAM))
        model.train()
        for step in range(4):
            index = order[step * 16:(step + 1) * 16]
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x[index]), y[index]).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            accuracy = 100.0 * float((model(x[:32]).argmax(1) == y[:32]).double().mean())
        for name, value in model.state_dict().items():
            live = stack.buffers.get(name, stack.params.get(name))
            # float64 would agree to ~1e-15, but the trainer computes the loss from
            # outputs.float() (float32), so the gradients agree to float32 rounding
            torch.testing.assert_close(live[k].detach(), value, rtol=1e-5, atol=1e-7)
        assert stack.records[0]["test_acc"][k] == accuracy
        assert int(stack.buffers["bn1.num_batches_tracked"][k]) == 4


def test_perturbations_act_on_batchnorm_state_as_specified():
    x = torch.randn(32, 3, 32, 32)
    dataset = Dataset("fake", x, torch.randint(0, 10, (32,)), x[:16], torch.randint(0, 10, (16,)), "classification", 10)
    template = build_model("resnet18_cifar", (3, 32, 32), 10, width=4)
    stack = training.ReplicaStack(template, dataset, [1, 2], training.TrainSettings(epochs=1, batch_size=16))
    stack.train_epoch()
    before = {k: v.detach().clone() for k, v in {**stack.params, **stack.buffers}.items()}
    stack.perturb(training.Perturbation(get_protocol("shrink_perturb"), {"shrink": 0.4, "noise": 0.1}, Schedule(period=1)))
    # fresh BatchNorm state is weight 1, bias 0, mean 0, var 1: S&P acts on all of it
    torch.testing.assert_close(stack.buffers["bn1.running_var"], 0.4 * before["bn1.running_var"] + 0.1)
    torch.testing.assert_close(stack.buffers["bn1.running_mean"], 0.4 * before["bn1.running_mean"])
    torch.testing.assert_close(stack.params["bn1.weight"].detach(), 0.4 * before["bn1.weight"] + 0.1)
    assert torch.equal(stack.buffers["bn1.num_batches_tracked"], before["bn1.num_batches_tracked"])
    kept = {k: v.detach().clone() for k, v in {**stack.params, **stack.buffers}.items()}
    stack.perturb(training.Perturbation(get_protocol("partial_reset"), {"fraction": 0.2}, Schedule(period=1)))
    for name in ("bn1.weight", "bn1.bias", "bn1.running_var", "linear.bias"):  # only Linear/Conv weights change
        live = stack.buffers.get(name, stack.params.get(name))
        assert torch.equal(live.detach(), kept[name])
    changed = sum(int((stack.params[n].detach() != kept[n]).sum()) for n in stack.weight_names)
    total = sum(kept[n][0].numel() for n in stack.weight_names)
    assert changed <= 2 * int(0.2 * total) and changed > 0


@pytest.mark.slow
def test_one_epoch_of_resnet18_on_the_fake_archive(fake_cifar10, tmp_path):
    """The full path: fake archive → torchvision → Dataset → ResNet-18 → 2 replicas, batch 125,
    S&P after the epoch, checkpoint written."""
    root, _ = fake_cifar10
    dataset = load_dataset("cifar10", root=str(root))
    template = build_model("resnet18_cifar", dataset.input_shape, dataset.output_dim)
    settings = training.TrainSettings(epochs=1, batch_size=125, optimizer="sgd",
                             optimizer_options={"lr": 0.01, "momentum": 0.9, "weight_decay": 0.0})
    perturbation = training.Perturbation(get_protocol("shrink_perturb"), {"shrink": 0.4, "noise": 0.1}, Schedule(period=1))
    torch.set_num_threads(2)
    started = time.perf_counter()
    table = training.train_block(template, dataset, [5, 6], [0, 1], settings, perturbation,
                        checkpoint_path=tmp_path / "ckpt.pt", fingerprint="resnet")
    elapsed = time.perf_counter() - started
    print(f"one epoch of ResNet-18, 2 replicas x {N_TRAIN} images + eval of {N_TEST}: {elapsed:.1f} s")
    assert len(table) == 2 and table["epoch"].tolist() == [1, 1]
    assert np.isfinite(table["test_acc"]).all() and np.isfinite(table["train_loss"]).all()
    assert table["perturbed_after"].all() and not table["diverged"].any()


def test_options_leaked_from_another_config_are_named():
    with pytest.raises(ValueError, match=r"data.options: unknown option\(s\) \['split_seed', 'test_size'\]"):
        load_dataset("cifar10", root="data/", test_size=597, split_seed=0)
    with pytest.raises(ValueError, match=r"model.options: unknown option\(s\) \['hidden'\]"):
        build_model("resnet18_cifar", (3, 32, 32), 10, hidden=[32])
