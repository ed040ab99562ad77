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
from . import ScheduledPerturbation

__all__ = ["PerturbationCallback"]


class PerturbationCallback(ScheduledPerturbation, TrainerCallback):
    """Perturb the model with ``protocol`` after epochs τ, 2τ, … (once their evaluation is logged)."""

    completed_epochs = 0  # epochs the Trainer has ended so far (counted per instance from the first)

    def on_epoch_end(self, args, state, control, **kwargs):
        self.completed_epochs += 1

    def on_epoch_begin(self, args, state, control, model=None, optimizer=None, **kwargs):
        if model is None or not self.schedule.due(self.completed_epochs):
            return
        perturb(model, self.schedule.protocol, generator=self.schedule.generator, optimizer=optimizer,
                options=self.schedule.options)
        self.schedule.perturbed_after.append(self.completed_epochs)
