"""The batched trainer against a plain one-model PyTorch loop, and its robustness."""

import copy

import numpy as np
import pytest
import torch
from torch import nn

from fptopt.train.data import load_dataset
from fptopt.train.models import build_model, draw_initial_state
from fptopt.train.protocols import TIMER_STREAM, Schedule, get_protocol
from fptopt.train.training import (
    DATA_STREAM,
    INIT_STREAM,
    Perturbation,
    ReplicaStack,
    StopAtTarget,
    TrainSettings,
    replica_generator,
    train_block,
)

SEEDS = [101, 202, 303]


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def plain_loop(template, dataset, seed, settings, make_optimizer, shrink_after=None, timer_rate=None):
    """One replica, one nn.Module, one torch.optim optimizer: the reference.
    With ``timer_rate``: a fresh state is drawn after every epoch and shrunk in
    when the replica's own uniform draw for that epoch is below the rate."""
    init_gen = replica_generator(seed, INIT_STREAM)
    data_gen = replica_generator(seed, DATA_STREAM)
    model = copy.deepcopy(template)
    model.load_state_dict(draw_initial_state(template, init_gen))
    optimizer = make_optimizer(model.parameters())
    loss_fn = nn.CrossEntropyLoss()
    n = dataset.x_train.shape[0]
    accuracies = []
    for epoch in range(1, settings.epochs + 1):
        order = torch.randperm(n, generator=data_gen)
        for step in range(n // settings.batch_size):
            index = order[step * settings.batch_size:(step + 1) * settings.batch_size]
            optimizer.zero_grad()
            loss_fn(model(dataset.x_train[index]), dataset.y_train[index]).backward()
            optimizer.step()
        with torch.no_grad():
            accuracies.append(100.0 * float((model(dataset.x_test).argmax(1) == dataset.y_test).double().mean()))
        if timer_rate is not None:
            fresh = draw_initial_state(template, init_gen)
            if np.random.default_rng([TIMER_STREAM, seed, epoch]).random() < timer_rate:
                with torch.no_grad():
                    model.load_state_dict({k: 0.4 * v + 0.1 * fresh[k] for k, v in model.state_dict().items()})
                optimizer = make_optimizer(model.parameters())
        if shrink_after is not None and epoch % shrink_after == 0:
            fresh = draw_initial_state(template, init_gen)
            with torch.no_grad():
                model.load_state_dict({k: 0.4 * v + 0.1 * fresh[k] for k, v in model.state_dict().items()})
            optimizer = make_optimizer(model.parameters())
    return model.state_dict(), accuracies


@pytest.mark.parametrize("engine", ["vmap", "loop"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_replica_k_equals_the_same_replica_trained_alone(digits, optimizer, engine):
    template = build_model("mlp", digits.input_shape, digits.output_dim, hidden=[16])
    options = {"sgd": {"lr": 0.05, "momentum": 0.9}, "adam": {"lr": 0.003}}[optimizer]
    settings = TrainSettings(epochs=3, batch_size=64, optimizer=optimizer, optimizer_options=options, engine=engine)
    perturbation = Perturbation(get_protocol("shrink_perturb"), {"shrink": 0.4, "noise": 0.1}, Schedule(period=2))
    stack = ReplicaStack(template, digits, SEEDS, settings)
    for _ in range(settings.epochs):
        stack.run_epoch(perturbation)
    torch_optimizer = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[optimizer]
    for k, seed in enumerate(SEEDS):
        state, accuracies = plain_loop(template, digits, seed, settings,
                                       lambda p: torch_optimizer(p, **options), shrink_after=2)
        for name, value in state.items():
            torch.testing.assert_close(stack.params[name][k].detach(), value, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose([r["test_acc"][k] for r in stack.records], accuracies, atol=1e-9)


def test_poisson_timer_replica_equals_it_trained_alone_with_its_own_draws(digits):
    """Under a timer each replica is perturbed on its own epochs (per-replica
    mask, optimizer reset only there) and still follows its solo trajectory."""
    template = build_model("mlp", digits.input_shape, digits.output_dim, hidden=[16])
    settings = TrainSettings(epochs=6, batch_size=64, optimizer_options={"lr": 0.05, "momentum": 0.9})
    rate = 0.4
    perturbation = Perturbation(get_protocol("shrink_perturb"), {"shrink": 0.4, "noise": 0.1}, Schedule(rate=rate))
    table = train_block(template, digits, SEEDS, list(range(len(SEEDS))), settings, perturbation, progress_every=100)
    acted = table.pivot(index="replica", columns="epoch", values="perturbed_after").to_numpy()
    assert acted.any() and not acted.all(axis=0).all()  # the replicas' timers differ
    for k, seed in enumerate(SEEDS):
        _, accuracies = plain_loop(template, digits, seed, settings,
                                   lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9), timer_rate=rate)
        mine = table[table["replica"] == k].sort_values("epoch")["test_acc"].to_numpy()
        np.testing.assert_allclose(mine, accuracies, atol=1e-9)


def test_poisson_timer_acts_at_its_rate_and_depends_on_seed_and_epoch_only():
    schedule = Schedule(rate=0.1)
    seeds = np.arange(1000, 1400)
    acts = np.stack([schedule.acts_on(epoch, seeds) for epoch in range(1, 51)])
    # 20,000 Bernoulli(0.1) draws: the share is within 4 standard errors of 0.1
    assert abs(acts.mean() - 0.1) < 4 * np.sqrt(0.1 * 0.9 / acts.size)
    np.testing.assert_array_equal(schedule.acts_on(7, seeds[::-1]), acts[6][::-1])
    assert not Schedule(period=3).acts_on(2, seeds).any() and Schedule(period=3).acts_on(3, seeds).all()
    with pytest.raises(ValueError, match="rate"):
        Schedule(rate=0.0)


def test_diverged_replica_is_frozen_and_others_are_unaffected(digits):
    template = build_model("mlp", digits.input_shape, digits.output_dim, hidden=[16])
    settings = TrainSettings(epochs=2, batch_size=64, optimizer_options={"lr": 0.05, "momentum": 0.9})
    clean = ReplicaStack(template, digits, SEEDS, settings)
    poisoned = ReplicaStack(template, digits, SEEDS, settings)
    with torch.no_grad():
        poisoned.params["0.weight"][1, 0, 0] = float("nan")  # a NaN-injecting replica
    for _ in range(2):
        clean.run_epoch(None)
        poisoned.run_epoch(None)
    records = poisoned.records
    assert records[0]["diverged"].tolist() == [False, True, False]
    assert np.isnan(records[1]["test_acc"][1]) and np.isnan(records[1]["train_loss"][1])
    for k in (0, 2):
        np.testing.assert_array_equal(records[1]["test_acc"][k], clean.records[1]["test_acc"][k])
        torch.testing.assert_close(poisoned.params["2.weight"][k], clean.params["2.weight"][k], rtol=0, atol=0)


def test_checkpoint_resume_is_bit_identical(digits, tmp_path):
    template = build_model("mlp", digits.input_shape, digits.output_dim, hidden=[16])
    settings = TrainSettings(epochs=4, batch_size=64, optimizer_options={"lr": 0.05, "momentum": 0.9})
    perturbation = Perturbation(get_protocol("partial_reset"), {"fraction": 0.3}, Schedule(period=2))
    whole = train_block(template, digits, SEEDS, [0, 1, 2], settings, perturbation)
    checkpoint = tmp_path / "block.pt"
    short = TrainSettings(epochs=3, batch_size=64, optimizer_options={"lr": 0.05, "momentum": 0.9})
    train_block(template, digits, SEEDS, [0, 1, 2], short, perturbation, checkpoint_path=checkpoint, fingerprint="x")
    resumed = train_block(template, digits, SEEDS, [0, 1, 2], settings, perturbation,
                          checkpoint_path=checkpoint, fingerprint="x")
    assert resumed.equals(whole)
    ignored = train_block(template, digits, SEEDS, [0, 1, 2], short, perturbation,
                          checkpoint_path=checkpoint, fingerprint="another config")
    assert len(ignored) == 3 * 3  # a checkpoint of another config is not resumed from


def test_checkpoint_every_k_epochs_resumes_from_the_last_one_written(digits, tmp_path):
    template = build_model("mlp", digits.input_shape, digits.output_dim, hidden=[16])
    settings = lambda epochs: TrainSettings(epochs=epochs, batch_size=64,  # noqa: E731
                                            optimizer_options={"lr": 0.05, "momentum": 0.9})
    perturbation = Perturbation(get_protocol("shrink_perturb"), {"shrink": 0.4, "noise": 0.1}, Schedule(period=2))
    whole = train_block(template, digits, SEEDS, [0, 1, 2], settings(5), perturbation)
    checkpoint = tmp_path / "block.pt"
    # A job stopped after epoch 3 with checkpoints every 2 epochs left the state of epoch 2.
    train_block(template, digits, SEEDS, [0, 1, 2], settings(3), perturbation,
                checkpoint_path=checkpoint, fingerprint="x", checkpoint_every=2)
    assert torch.load(checkpoint, weights_only=False)["snapshot"]["epoch"] == 2
    resumed = train_block(template, digits, SEEDS, [0, 1, 2], settings(5), perturbation,
                          checkpoint_path=checkpoint, fingerprint="x", checkpoint_every=2)
    assert resumed.equals(whole)
    with pytest.raises(ValueError, match="checkpoint_every: expected at least 1"):
        train_block(template, digits, SEEDS, [0, 1, 2], settings(1), checkpoint_every=0)


STOP_SEEDS = list(range(500, 540))


def _stop_setup(digits, optimizer="sgd"):
    template = build_model("mlp", digits.input_shape, digits.output_dim, hidden=[16])
    options = {"lr": 0.05, "momentum": 0.9} if optimizer == "sgd" else {"lr": 0.01}
    settings = TrainSettings(epochs=12, batch_size=64, optimizer=optimizer, optimizer_options=options)
    perturbation = Perturbation(get_protocol("shrink_perturb"), {"shrink": 0.4, "noise": 0.1}, Schedule(period=4))
    return template, settings, perturbation


@pytest.mark.parametrize("compact_fraction", [0.0, 0.3])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_stopped_replicas_leave_the_stack_and_the_others_do_not_notice(digits, optimizer, compact_fraction):
    """Stopping at first passage changes nothing that a first-passage estimate
    reads: every replica's observables up to its first passage equal those of
    a run without stopping (bit for bit, also across compactions and with
    Adam's per-replica step counts), replicas stop right after passing, the
    exempt ones train to the horizon, and the rows say what was computed."""
    template, settings, perturbation = _stop_setup(digits, optimizer)
    ids = list(range(len(STOP_SEEDS)))
    whole = train_block(template, digits, STOP_SEEDS, ids, settings, perturbation)
    # About half of the replicas pass within the 12 epochs.
    target = float(np.median(whole.groupby("replica")["test_acc"].max()))
    stop = StopAtTarget("test_acc", target, exempt=frozenset({0, 3}), compact_fraction=compact_fraction)
    stopped = train_block(template, digits, STOP_SEEDS, ids, settings, perturbation, stop=stop)
    full_acc = whole.pivot(index="replica", columns="epoch", values="test_acc").to_numpy()
    stop_acc = stopped.pivot(index="replica", columns="epoch", values="test_acc").to_numpy()
    passed = full_acc >= target
    first = np.where(passed.any(axis=1), np.argmax(passed, axis=1), full_acc.shape[1] - 1)
    n_passed = 0
    for replica, epoch in enumerate(first):
        np.testing.assert_array_equal(stop_acc[replica, : epoch + 1], full_acc[replica, : epoch + 1])
        if replica in (0, 3):
            np.testing.assert_array_equal(stop_acc[replica], full_acc[replica])
        elif passed[replica].any():
            n_passed += 1
            assert np.isnan(stop_acc[replica, epoch + 1:]).all()
    assert 5 <= n_passed <= len(ids) - 5  # the test does exercise stopping
    trained = stopped.pivot(index="replica", columns="epoch", values="trained").to_numpy()
    is_stopped = stopped.pivot(index="replica", columns="epoch", values="stopped").to_numpy()
    assert not is_stopped[[0, 3]].any() and trained[[0, 3]].all()
    horizon = full_acc.shape[1]
    needed = sum(horizon if r in (0, 3) or not passed[r].any() else first[r] + 1 for r in ids)
    if compact_fraction == 0.0:  # no epoch after a passage is computed
        assert int(trained.sum()) == needed
    else:  # stopped replicas wait, frozen, until 30 % of the stack has stopped
        assert needed < int(trained.sum()) < trained.size
    after_passage = np.arange(horizon)[None, :] > first[:, None]
    stops = passed.any(axis=1) & ~np.isin(ids, [0, 3])
    np.testing.assert_array_equal(is_stopped, after_passage & stops[:, None])


def test_checkpoint_resume_with_stopping_is_bit_identical(digits, tmp_path):
    """A job killed after replicas stopped resumes with the same compacted stack."""
    template, settings, perturbation = _stop_setup(digits, "adam")
    ids = list(range(len(STOP_SEEDS)))
    probe = train_block(template, digits, STOP_SEEDS, ids, settings, perturbation)
    stop = StopAtTarget("test_acc", float(np.median(probe.groupby("replica")["test_acc"].max())),
                        exempt=frozenset({1}))
    whole = train_block(template, digits, STOP_SEEDS, ids, settings, perturbation, stop=stop)
    checkpoint = tmp_path / "block.pt"
    short = TrainSettings(epochs=7, batch_size=64, optimizer="adam", optimizer_options={"lr": 0.01})
    train_block(template, digits, STOP_SEEDS, ids, short, perturbation, checkpoint_path=checkpoint,
                fingerprint="x", stop=stop)
    saved = torch.load(checkpoint, weights_only=False)["snapshot"]
    assert 0 < saved["stopped"].sum() and len(saved["positions"]) < len(ids)  # resumed from a compacted stack
    resumed = train_block(template, digits, STOP_SEEDS, ids, settings, perturbation, checkpoint_path=checkpoint,
                          fingerprint="x", stop=stop)
    assert resumed.equals(whole)


def test_a_block_whose_replicas_all_stop_finishes_its_table(digits):
    template, settings, perturbation = _stop_setup(digits)
    table = train_block(template, digits, SEEDS, [0, 1, 2], settings, perturbation,
                        stop=StopAtTarget("test_acc", 0.0))
    assert len(table) == 3 * settings.epochs and int(table["trained"].sum()) == 3
    assert table.loc[table["epoch"] > 1, "test_acc"].isna().all()
    with pytest.raises(ValueError, match="observable.direction"):
        StopAtTarget("test_acc", 1.0, direction="up")
