"""Each protocol against its definition, on stacked replicas."""

import copy
import math

import pytest
import torch
from torch import nn

from fptopt.train.models import build_model, draw_initial_state, draw_stacked_state, init_bounds
from fptopt.train.protocols import Schedule, apply_protocol, get_protocol


@pytest.fixture
def template():
    return build_model("mlp", (64,), 10, hidden=[16, 8])


def stacked(template, seeds):
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    return draw_stacked_state(template, gens)


def weight_names(template):
    return [k for k in init_bounds(template) if k.endswith("weight")]


def test_shrink_perturb_is_the_formula_exactly(template):
    state, fresh = stacked(template, [1, 2, 3]), stacked(template, [4, 5, 6])
    mask = torch.ones(3, dtype=torch.bool)
    out = apply_protocol(get_protocol("shrink_perturb"), state, fresh, mask, {"shrink": 0.4, "noise": 0.1}, [])
    for name in state:
        torch.testing.assert_close(out[name], 0.4 * state[name] + 0.1 * fresh[name], rtol=0, atol=0)
    assert get_protocol("shrink_perturb").resets_optimizer


def test_partial_reset_touches_exactly_the_smallest_weights(template):
    state, fresh = stacked(template, [7, 8]), stacked(template, [9, 10])
    names = weight_names(template)
    fraction = 0.25
    out = apply_protocol(get_protocol("partial_reset"), state, fresh, torch.ones(2, dtype=torch.bool),
                         {"fraction": fraction}, names)
    for replica in range(2):
        magnitudes = torch.cat([state[n][replica].abs().flatten() for n in names])
        n_reset = int(fraction * magnitudes.numel())
        threshold = magnitudes.sort().values[n_reset - 1]
        for name in names:
            changed = out[name][replica] != state[name][replica]
            small = state[name][replica].abs() <= threshold
            assert torch.equal(changed, small)  # continuous draws: no ties
            assert torch.equal(out[name][replica][changed], fresh[name][replica][changed])
        n_changed = sum(int((out[n][replica] != state[n][replica]).sum()) for n in names)
        assert n_changed == n_reset
    for name in state:  # biases are never touched
        if not name.endswith("weight"):
            assert torch.equal(out[name], state[name])
    assert not get_protocol("partial_reset").resets_optimizer


def test_partial_reset_ranks_globally_not_per_layer(template):
    state, fresh = stacked(template, [11]), stacked(template, [12])
    names = weight_names(template)
    first = state[names[0]]
    state[names[0]] = torch.sign(first) * (first.abs() + 10.0)  # the first layer now holds only large weights
    out = apply_protocol(get_protocol("partial_reset"), state, fresh, torch.ones(1, dtype=torch.bool),
                         {"fraction": 0.1}, names)
    assert torch.equal(out[names[0]], state[names[0]])
    assert any(not torch.equal(out[n], state[n]) for n in names[1:])


# --- Partial and full reset against a plain one-module reference -------------
# The reference never touches a stack, fptopt.train.models' initializer or the
# registered protocol functions: one replica is one plain nn.Module, initialized
# with PyTorch's own default rule (kaiming_uniform_(a=√5) for weights, U(±1/√fan_in)
# for biases, reset_parameters() for normalization layers) from that replica's
# generator, and each protocol is a for-loop over that module's parameters.

def conv_bn_template():
    """A conv layer, a BatchNorm (parameters and buffers) and a linear head."""
    return nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 6 * 6, 10))


TEMPLATES = {"mlp": lambda: build_model("mlp", (64,), 10, hidden=[16, 8]), "conv_bn": conv_bn_template}
RESET_SEEDS = [21, 22, 23]


def fan_in_layers(model):
    return [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]


def plain_init(template, generator):
    """One replica as a plain module, initialized the way PyTorch does it, from ``generator``."""
    model = copy.deepcopy(template)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Linear, nn.Conv2d)):
                nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=generator)
                bound = 1 / math.sqrt(module.weight[0].numel())
                nn.init.uniform_(module.bias, -bound, bound, generator=generator)
            elif isinstance(module, nn.BatchNorm2d):
                module.reset_parameters()
    return model


def plain_trained(model):
    """Stand-in for training, the same map as :func:`stack_trained`: no value stays at its init."""
    with torch.no_grad():
        for tensor in list(model.parameters()) + list(model.buffers()):
            if tensor.is_floating_point():
                tensor.mul_(2.0).add_(0.1)
    return model


def stack_trained(state):
    return {name: 2.0 * value + 0.1 if value.is_floating_point() else value for name, value in state.items()}


def plain_partial_reset(model, fresh_model, fraction):
    """Sort every Linear/Conv weight magnitude of the module in one list, re-draw those up to the
    ``floor(fraction · n)``-th smallest from the fresh module; biases and normalization untouched."""
    pairs = list(zip(fan_in_layers(model), fan_in_layers(fresh_model), strict=True))
    magnitudes = sorted(abs(v) for layer, _ in pairs for v in layer.weight.detach().flatten().tolist())
    n_reset = int(fraction * len(magnitudes))
    if n_reset == 0:
        return model
    threshold = magnitudes[n_reset - 1]
    with torch.no_grad():
        for layer, fresh_layer in pairs:
            small = layer.weight.abs() <= threshold
            layer.weight[small] = fresh_layer.weight[small]
    return model


def plain_full_reset(model, fresh_model):
    """Copy every parameter and buffer of the fresh module."""
    with torch.no_grad():
        for tensor, fresh_tensor in zip(list(model.parameters()) + list(model.buffers()),
                                        list(fresh_model.parameters()) + list(fresh_model.buffers()), strict=True):
            tensor.copy_(fresh_tensor)
    return model


@pytest.mark.parametrize("template_name", sorted(TEMPLATES))
@pytest.mark.parametrize("kind, options", [
    *(pytest.param("partial_reset", {"fraction": f}, id=f"partial_reset-{f}") for f in (0.0, 0.1, 0.5, 1.0)),
    pytest.param("full_reset", {}, id="full_reset"),
])
def test_reset_protocols_equal_a_plain_loop_over_one_module(template_name, kind, options):
    template = TEMPLATES[template_name]()
    generators = [torch.Generator().manual_seed(s) for s in RESET_SEEDS]
    state = stack_trained(draw_stacked_state(template, generators))
    fresh = draw_stacked_state(template, generators)  # the same streams, continued, as in the trainer
    out = apply_protocol(get_protocol(kind), state, fresh, torch.ones(len(RESET_SEEDS), dtype=torch.bool),
                         options, weight_names(template))
    for replica, seed in enumerate(RESET_SEEDS):
        generator = torch.Generator().manual_seed(seed)
        model = plain_trained(plain_init(template, generator))
        fresh_model = plain_init(template, generator)
        before = copy.deepcopy(model.state_dict())
        if kind == "partial_reset":
            plain_partial_reset(model, fresh_model, options["fraction"])
        else:
            plain_full_reset(model, fresh_model)
        expected = model.state_dict()
        assert set(out) == set(expected)
        for name, value in expected.items():
            got = out[name][replica]
            torch.testing.assert_close(got, value, rtol=1e-6, atol=1e-8, msg=f"{kind} {options}, replica {replica}, {name}")
            if value.is_floating_point():  # the same entries changed, exactly
                assert torch.equal(got != state[name][replica], value != before[name]), name
        n_changed = sum(int((out[n][replica] != state[n][replica]).sum()) for n in state if state[n].is_floating_point())
        n_weights = sum(layer.weight.numel() for layer in fan_in_layers(template))
        n_float = sum(v.numel() for v in before.values() if v.is_floating_point())
        assert n_changed == (int(options["fraction"] * n_weights) if kind == "partial_reset" else n_float)


def test_mask_leaves_other_replicas_unchanged(template):
    state, fresh = stacked(template, [1, 2, 3]), stacked(template, [4, 5, 6])
    mask = torch.tensor([True, False, True])
    out = apply_protocol(get_protocol("full_reset"), state, fresh, mask, {}, [])
    for name in state:
        assert torch.equal(out[name][1], state[name][1])
        assert torch.equal(out[name][0], fresh[name][0])


def test_default_init_matches_pytorch_bounds(template):
    state = draw_initial_state(template, torch.Generator().manual_seed(0))
    first = state["0.weight"]
    bound = 1 / 64**0.5
    assert first.abs().max() <= bound and first.abs().max() > 0.9 * bound
    assert abs(float(first.mean())) < 0.1 * bound


def test_schedule_acts_after_multiples_of_tau():
    schedule = Schedule(period=3)
    assert [e for e in range(1, 11) if schedule.acts_after(e)] == [3, 6, 9]
    assert [e for e in range(1, 11) if Schedule(epochs=(2, 7)).acts_after(e)] == [2, 7]
    with pytest.raises(ValueError, match="tau"):
        Schedule(period=0)


def test_unknown_protocol_names_the_known_ones():
    with pytest.raises(ValueError, match="shrink_perturb"):
        get_protocol("warm_restart")
