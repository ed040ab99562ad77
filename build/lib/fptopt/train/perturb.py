"""Perturb your own model and optimizer with a registered protocol, exactly as the pipeline does.

The pipeline's trainer perturbs a stack of replicas (:meth:`ReplicaStack.perturb
<fptopt.train.training.ReplicaStack.perturb>`); :func:`perturb` does the same to
one ``torch.nn.Module`` and its optimizer, so a period chosen by
``fptopt analyze`` can be trained in any trainer with the semantics the theory
was measured with:

* **what**: every parameter and buffer of the module, as the protocol says
  (:mod:`fptopt.train.protocols`: shrink-and-perturb on every floating-point
  tensor, partial reset of the smallest-|w| Linear/Conv weights ranked over all
  layers together, full reset of everything);
* **the fresh draw**: PyTorch's default initialization, U(±1/√fan_in) for
  Linear/Conv weights and biases, 1/0 for normalization weights/biases and
  running statistics (:func:`fptopt.train.models.draw_initial_state`), from the
  caller's ``generator`` only, in the module's parameter order;
* **the optimizer**: protocols that reset it (shrink-and-perturb, full reset)
  drop the optimizer's per-parameter state (momentum buffers, Adam moments and
  step counts), which is what the pipeline's stacked optimizers do (a zero
  momentum buffer and "no buffer yet" give the same next step); partial reset
  keeps it;
* **when**: after epochs τ, 2τ, … once that epoch's evaluation is done — the
  callbacks (:mod:`fptopt.callbacks`) call :func:`perturb` at that moment.

Examples
--------
>>> import torch
>>> model = torch.nn.Linear(4, 2)
>>> optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
>>> perturb(model, "shrink_perturb", generator=torch.Generator().manual_seed(0), optimizer=optimizer,
...         options={"shrink": 0.4, "noise": 0.1})
"""

from __future__ import annotations

import torch
from torch import nn

from .models import draw_initial_state, init_bounds
from .protocols import Protocol, apply_protocol, get_protocol

__all__ = ["perturb", "reset_optimizer_state", "resolve_protocol"]


def resolve_protocol(protocol: str | Protocol) -> Protocol:
    """A registered protocol by name (unknown names list the known ones), or the protocol itself."""
    return get_protocol(protocol) if isinstance(protocol, str) else protocol


@torch.no_grad()
def perturb(module: nn.Module, protocol: str | Protocol, *, generator: torch.Generator,
            optimizer: torch.optim.Optimizer | None = None, options: dict | None = None) -> None:
    """Apply ``protocol`` to ``module`` in place (and reset ``optimizer``'s state when the protocol does)."""
    protocol = resolve_protocol(protocol)
    live = {**dict(module.named_parameters()), **dict(module.named_buffers())}
    if not live:
        raise ValueError("perturb: the module has no parameters or buffers to perturb")
    device = next(iter(live.values())).device
    fresh = draw_initial_state(module, generator, device)
    weight_names = [name for name in init_bounds(module) if name.endswith("weight")]
    # A stack of one replica: the same function the pipeline applies to its stacks.
    state = {name: tensor.detach().unsqueeze(0) for name, tensor in live.items()}
    perturbed = apply_protocol(protocol, state, {name: fresh[name].unsqueeze(0) for name in state},
                               torch.ones(1, dtype=torch.bool, device=device), dict(options or {}), weight_names)
    for name, tensor in live.items():
        tensor.copy_(perturbed[name][0])
    if protocol.resets_optimizer and optimizer is not None:
        reset_optimizer_state(optimizer, module.parameters())


def reset_optimizer_state(optimizer, parameters) -> None:
    """Forget ``optimizer``'s per-parameter state (momentum, moments, step counts) of ``parameters``.

    Works on any ``torch.optim.Optimizer`` and on wrappers that expose its
    ``state`` (Lightning's and Accelerate's); the next step starts as the first one did.
    """
    state = optimizer.state
    for parameter in parameters:
        state.pop(parameter, None)
