"""fptopt.train.perturb on a user's own nn.Module and torch.optim optimizer: the same
trajectory as the pipeline's stacked trainer, and the protocols' formulas by hand."""

import copy

import numpy as np
import pytest
import torch
from torch import nn

from fptopt.train.data import load_dataset
from fptopt.train.models import build_model, draw_initial_state
from fptopt.train.perturb import perturb
from fptopt.train.protocols import Schedule, get_protocol
from fptopt.train.training import DATA_STREAM, INIT_STREAM, Perturbation, ReplicaStack, TrainSettings, replica_generator

SEEDS = [11, 22]
OPTIONS = {"shrink_perturb": {"shrink": 0.4, "noise": 0.1}, "partial_reset": {"fraction": 0.3}, "full_reset": {}}


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def users_loop(template, dataset, seed, settings, protocol, period):
    """A plain training loop that calls fptopt.train.perturb after epochs τ, 2τ, …"""
    init_gen, data_gen = replica_generator(seed, INIT_STREAM), replica_generator(seed, DATA_STREAM)
    model = copy.deepcopy(template)
    model.load_state_dict(draw_initial_state(template, init_gen))
    optimizer = torch.optim.SGD(model.parameters(), **settings.optimizer_options)
    n, accuracies = dataset.x_train.shape[0], []
    for epoch in range(1, settings.epochs + 1):
        order = torch.randperm(n, generator=data_gen)
        for step in range(n // settings.batch_size):
            index = order[step * settings.batch_size:(step + 1) * settings.batch_size]
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(dataset.x_train[index]), dataset.y_train[index]).backward()
            optimizer.step()
        with torch.no_grad():
            accuracies.append(100.0 * float((model(dataset.x_test).argmax(1) == dataset.y_test).double().mean()))
        if epoch % period == 0:  # after the epoch's evaluation, as the pipeline does
            perturb(model, protocol, generator=init_gen, optimizer=optimizer, options=OPTIONS[protocol])
    return model.state_dict(), accuracies


@pytest.mark.parametrize("protocol", sorted(OPTIONS))
def test_perturbing_your_own_module_follows_the_pipelines_trajectory(digits, protocol):
    template = build_model("mlp", digits.input_shape, digits.output_dim, hidden=[16])
    settings = TrainSettings(epochs=5, batch_size=64, optimizer="sgd", optimizer_options={"lr": 0.05, "momentum": 0.9})
    stack = ReplicaStack(template, digits, SEEDS, settings)
    perturbation = Perturbation(get_protocol(protocol), OPTIONS[protocol], Schedule(period=2))
    for _ in range(settings.epochs):
        stack.run_epoch(perturbation)
    for k, seed in enumerate(SEEDS):
        state, accuracies = users_loop(template, digits, seed, settings, protocol, period=2)
        for name, value in state.items():
            torch.testing.assert_close(stack.params[name][k].detach(), value, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose([r["test_acc"][k] for r in stack.records], accuracies, atol=1e-9)


def by_hand_fresh_draw(module, seed):
    """PyTorch's default init, written out: U(±1/√fan_in) per Linear tensor, in parameter order."""
    generator = torch.Generator().manual_seed(seed)
    fresh = {}
    for name, tensor in module.named_parameters():
        layer = module.get_submodule(name.rsplit(".", 1)[0]) if "." in name else module
        bound = 1.0 / layer.in_features ** 0.5
        fresh[name] = (2.0 * torch.rand(tensor.shape, generator=generator) - 1.0) * bound
    return fresh


def test_shrink_perturb_and_full_reset_are_their_formulas():
    model = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fresh = by_hand_fresh_draw(model, seed=3)
    perturb(model, "shrink_perturb", generator=torch.Generator().manual_seed(3), options={"shrink": 0.5, "noise": 0.2})
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, 0.5 * before[name] + 0.2 * fresh[name])
    perturb(model, "full_reset", generator=torch.Generator().manual_seed(3))
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, fresh[name])


def test_partial_reset_redraws_exactly_the_smallest_weights_and_keeps_the_optimizer():
    model = nn.Sequential(nn.Linear(6, 5), nn.Linear(5, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.ones(1, 6)).sum().backward()
    optimizer.step()
    weights = torch.cat([model[0].weight.detach().ravel(), model[1].weight.detach().ravel()])
    smallest = set(torch.argsort(weights.abs())[: int(0.2 * weights.numel())].tolist())
    biases = [model[0].bias.detach().clone(), model[1].bias.detach().clone()]
    perturb(model, "partial_reset", generator=torch.Generator().manual_seed(0), optimizer=optimizer,
            options={"fraction": 0.2})
    after = torch.cat([model[0].weight.detach().ravel(), model[1].weight.detach().ravel()])
    assert set(torch.nonzero(after != weights).ravel().tolist()) == smallest
    assert all(torch.equal(b, m.bias) for b, m in zip(biases, model, strict=True))  # only weights are ranked
    assert all("momentum_buffer" in optimizer.state[p] for p in model.parameters())  # kept


@pytest.mark.parametrize("protocol, resets", [("shrink_perturb", True), ("full_reset", True)])
def test_protocols_that_reset_the_optimizer_drop_its_state(protocol, resets):
    model = nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    perturb(model, protocol, generator=torch.Generator().manual_seed(1), optimizer=optimizer)
    assert (len(optimizer.state) == 0) is resets


def test_unknown_protocol_names_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown protocol 'warm_restart'; known: \['full_reset'"):
        perturb(nn.Linear(2, 2), "warm_restart", generator=torch.Generator())
