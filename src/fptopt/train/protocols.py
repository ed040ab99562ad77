"""Perturbation protocols and their schedules.

A protocol is one function ``f(state, fresh, *, **options) -> state`` acting
on a stack of replicas (every tensor has the replica axis first). ``fresh``
is a freshly drawn default initialization of the same stack (one draw per
replica, from that replica's own generator). Registering a new protocol is
one decorated function; nothing downstream depends on which one ran.

The trainer applies a protocol after the epochs its schedule names, after
that epoch's observables have been recorded, and only to the replicas in
``mask`` (diverged replicas are left alone).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from .registry import Registry

Stack = dict[str, torch.Tensor]


@dataclass(frozen=True)
class Protocol:
    """A registered perturbation: the function and what it does to the optimizer."""

    name: str
    apply: Callable[..., Stack]
    resets_optimizer: bool
    needs_weight_names: bool = False


PROTOCOLS = Registry("protocol", "protocol kind")


def register_protocol(name: str, resets_optimizer: bool, needs_weight_names: bool = False):
    """Decorator adding a protocol to the registry under ``name``."""
    return PROTOCOLS.register(name, lambda function: Protocol(name, function, resets_optimizer, needs_weight_names))


def get_protocol(name: str) -> Protocol:
    return PROTOCOLS.lookup(name)


@register_protocol("shrink_perturb", resets_optimizer=True)
def shrink_perturb(state: Stack, fresh: Stack, *, shrink: float = 0.4, noise: float = 0.1) -> Stack:
    """Shrink and perturb: ``w ← λ·w + σ·w₀'`` on every floating-point tensor."""
    return {
        name: shrink * value + noise * fresh[name] if value.is_floating_point() else value
        for name, value in state.items()
    }


@register_protocol("full_reset", resets_optimizer=True)
def full_reset(state: Stack, fresh: Stack) -> Stack:
    """Stochastic resetting (restart): ``w ← w₀'`` for the whole state."""
    return {name: fresh[name].clone() for name in state}


@register_protocol("partial_reset", resets_optimizer=False, needs_weight_names=True)
def partial_reset(state: Stack, fresh: Stack, *, fraction: float = 0.1, weight_names: list[str]) -> Stack:
    """Re-draw the fraction ``f`` of smallest-|w| weights, ranked per replica
    over all Linear/Conv weight tensors together; the optimizer is kept.

    Exactly ``floor(f · n_weights)`` entries change per replica (ties in |w|
    are broken by position, as ``torch.topk`` does).
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"partial_reset fraction: expected a value in [0, 1], got {fraction}")
    n_replicas = next(iter(state.values())).shape[0]
    flat = torch.cat([state[name].reshape(n_replicas, -1) for name in weight_names], dim=1)
    n_reset = int(fraction * flat.shape[1])
    mask = torch.zeros_like(flat, dtype=torch.bool)
    if n_reset > 0:
        smallest = torch.topk(flat.abs(), n_reset, dim=1, largest=False).indices
        mask.scatter_(1, smallest, True)
    new_state = dict(state)
    offset = 0
    for name in weight_names:
        size = state[name][0].numel()
        tensor_mask = mask[:, offset : offset + size].reshape(state[name].shape)
        new_state[name] = torch.where(tensor_mask, fresh[name], state[name])
        offset += size
    return new_state


def apply_protocol(
    protocol: Protocol, state: Stack, fresh: Stack, mask: torch.Tensor, options: dict, weight_names: list[str]
) -> Stack:
    """Apply ``protocol`` to the replicas where ``mask`` is True; others unchanged."""
    kwargs = dict(options)
    if protocol.needs_weight_names:
        kwargs["weight_names"] = weight_names
    perturbed = protocol.apply(state, fresh, **kwargs)
    out = {}
    for name, value in state.items():
        shape = (-1,) + (1,) * (value.dim() - 1)
        out[name] = torch.where(mask.view(shape), perturbed[name], value)
    return out


# The Poisson timer's draws come from their own stream of each replica's seed
# (after the init and data streams of fptopt.train.training).
TIMER_STREAM = 2


@dataclass(frozen=True)
class Schedule:
    """When a protocol acts: after every ``period`` epochs, at listed epochs, or
    (``rate``) after each epoch with probability ``rate``, independently per
    replica: a discrete-time Poisson timer."""

    period: int | None = None
    epochs: tuple[int, ...] = ()
    rate: float | None = None

    def __post_init__(self):
        if self.period is not None and self.period < 1:
            raise ValueError(f"tau: expected a period ≥ 1 epoch, got {self.period}")
        if any(e < 1 for e in self.epochs):
            raise ValueError(f"schedule epochs: expected epochs ≥ 1, got {list(self.epochs)}")
        if self.rate is not None and not 0.0 < self.rate <= 1.0:
            raise ValueError(f"schedule rate: expected a probability in (0, 1], got {self.rate}")

    def acts_after(self, epoch: int) -> bool:
        """True when the protocol acts right after ``epoch`` (1-based) is recorded
        (for every replica; a Poisson timer decides per replica: :meth:`acts_on`)."""
        if self.period is not None and epoch % self.period == 0:
            return True
        return epoch in self.epochs

    def acts_on(self, epoch: int, seeds) -> np.ndarray:
        """Which of the replicas with these seeds the protocol acts on right after
        ``epoch``. The timer's draw is a function of (seed, epoch) alone, so a
        replica's perturbation epochs do not depend on its block, on which other
        replicas stopped, or on where a killed job resumed."""
        acts = np.full(len(seeds), self.acts_after(epoch))
        if self.rate is not None:
            draws = np.array([np.random.default_rng([TIMER_STREAM, int(seed), int(epoch)]).random()
                              for seed in seeds])
            acts |= draws < self.rate
        return acts

    @property
    def is_empty(self) -> bool:
        return self.period is None and not self.epochs and self.rate is None
