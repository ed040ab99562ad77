"""Each protocol against its definition, on stacked replicas."""

import pytest
import torch

from fptopt.models import build_model, draw_initial_state, draw_stacked_state, init_bounds
from fptopt.protocols import Schedule, apply_protocol, get_protocol


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


def test_full_reset_equals_a_fresh_initialization_for_that_seed(template):
    state = stacked(template, [13, 14])
    fresh = stacked(template, [15, 16])
    out = apply_protocol(get_protocol("full_reset"), state, fresh, torch.ones(2, dtype=torch.bool), {}, [])
    alone = draw_initial_state(template, torch.Generator().manual_seed(16))
    for name in state:
        assert torch.equal(out[name][1], alone[name])


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
