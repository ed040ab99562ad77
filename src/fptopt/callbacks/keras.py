"""Keras 3 (torch backend): ``PerturbationCallback(protocol, tau)`` in ``model.fit(callbacks=[...])``.

Keras calls ``on_epoch_end`` with the epoch's training and validation metrics
already computed (what ``keras.callbacks.CSVLogger`` writes), so they belong
to the unperturbed model. The protocol acts through the same functions as the
pipeline (:func:`fptopt.train.protocols.apply_protocol`) on the model's
variables, with the fresh draw of the pipeline's default initialization in
Keras's layout: kernels and biases U(±1/√fan_in) with fan_in the product of a
kernel's shape but its last axis (Dense ``(in, out)``, Conv ``(…, in, out)``),
``gamma``/``moving_variance`` 1, ``beta``/``moving_mean`` 0; partial reset ranks
the kernels. Other variables are left as they are. A protocol that resets the
optimizer zeroes its slot variables and its iteration count (Adam's bias
correction starts again, as in the pipeline; a step-based learning-rate
schedule starts again too) and keeps its learning rate.
"""

from __future__ import annotations

import math

import keras
import torch

from ..train.protocols import apply_protocol
from . import ScheduledPerturbation

__all__ = ["PerturbationCallback", "perturb_keras"]

_ONES, _ZEROS = ("gamma", "moving_variance"), ("beta", "moving_mean")


def _tensor(variable) -> torch.Tensor:
    return torch.as_tensor(keras.ops.convert_to_numpy(variable.value)).float()


def _fresh_draw(variables: dict, generator: torch.Generator) -> dict[str, torch.Tensor]:
    kernels = {path.rsplit("/", 1)[0]: var for path, var in variables.items() if path.endswith("/kernel")}
    fresh = {}
    for path, var in variables.items():
        owner, name = path.rsplit("/", 1) if "/" in path else ("", path)
        shape = tuple(var.shape)
        if name in ("kernel", "bias") and owner in kernels:
            bound = 1.0 / math.sqrt(math.prod(tuple(kernels[owner].shape)[:-1]))
            fresh[path] = (2.0 * torch.rand(shape, generator=generator) - 1.0) * bound
        elif name in _ONES:
            fresh[path] = torch.ones(shape)
        elif name in _ZEROS:
            fresh[path] = torch.zeros(shape)
        else:
            fresh[path] = _tensor(var)
    return fresh


def perturb_keras(model, protocol, *, generator: torch.Generator, optimizer=None, options: dict | None = None) -> None:
    """Apply ``protocol`` to a Keras model's variables in place (see the module doc)."""
    from ..train.perturb import resolve_protocol

    protocol = resolve_protocol(protocol)
    variables = {var.path: var for var in model.weights}
    if not variables:
        raise ValueError("perturb_keras: the model has no weights yet (build it, or call it once, first)")
    fresh = _fresh_draw(variables, generator)
    state = {path: _tensor(var).unsqueeze(0) for path, var in variables.items()}
    kernels = [path for path in variables if path.endswith("/kernel")]
    perturbed = apply_protocol(protocol, state, {p: f.unsqueeze(0) for p, f in fresh.items()},
                               torch.ones(1, dtype=torch.bool), dict(options or {}), kernels)
    for path, var in variables.items():
        var.assign(perturbed[path][0].numpy().astype(keras.backend.standardize_dtype(var.dtype)))
    if protocol.resets_optimizer and optimizer is not None:
        learning_rate = getattr(optimizer, "_learning_rate", None)
        for var in optimizer.variables:
            if var is not learning_rate and "learning_rate" not in var.path:
                var.assign(keras.ops.zeros(var.shape, dtype=var.dtype))


class PerturbationCallback(ScheduledPerturbation, keras.callbacks.Callback):
    """Perturb the model with ``protocol`` after epochs τ, 2τ, … (Keras's 0-based epoch + 1)."""

    def on_epoch_end(self, epoch, logs=None):
        completed = int(epoch) + 1
        if not self.schedule.due(completed):
            return
        perturb_keras(self.model, self.schedule.protocol, generator=self.schedule.generator,
                      optimizer=self.model.optimizer, options=self.schedule.options)
        self.schedule.perturbed_after.append(completed)
