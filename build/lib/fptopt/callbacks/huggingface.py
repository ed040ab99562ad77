"""Hugging Face ``Trainer``: ``PerturbationCallback(protocol, tau)`` in ``Trainer(callbacks=[...])``.

The perturbation after epoch k acts at the start of epoch k + 1, which the
``Trainer`` reaches only after epoch k's evaluation and logging
(``eval_strategy="epoch"``), so ``trainer_state.json`` holds the unperturbed
model's metrics for epoch τ. The optimizer the ``Trainer`` passes to its
callbacks has its state reset when the protocol does.
"""

from __future__ import annotations

from transformers import TrainerCallback

from ..train.perturb import perturb
from . import PerturbationSchedule

__all__ = ["PerturbationCallback"]


class PerturbationCallback(TrainerCallback):
    """Perturb the model with ``protocol`` after epochs τ, 2τ, … (once their evaluation is logged)."""

    def __init__(self, protocol: str, tau: int, *, seed: int = 0, options: dict | None = None):
        self.schedule = PerturbationSchedule(protocol, tau, seed=seed, options=options)
        self.completed_epochs = 0

    @property
    def perturbed_after(self) -> list[int]:
        return self.schedule.perturbed_after

    def on_epoch_end(self, args, state, control, **kwargs):
        self.completed_epochs += 1

    def on_epoch_begin(self, args, state, control, model=None, optimizer=None, **kwargs):
        if model is None or not self.schedule.due(self.completed_epochs):
            return
        perturb(model, self.schedule.protocol, generator=self.schedule.generator, optimizer=optimizer,
                options=self.schedule.options)
        self.schedule.perturbed_after.append(self.completed_epochs)
