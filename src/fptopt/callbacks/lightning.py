"""PyTorch Lightning: ``PerturbationCallback(protocol, tau)`` in ``Trainer(callbacks=[...])``.

Lightning runs the epoch's validation before ``on_train_epoch_end``, so the
metrics of epoch τ (what ``CSVLogger``/``TensorBoardLogger`` write) are those of
the unperturbed model; the perturbation then acts on the LightningModule and
resets the state of its optimizers when the protocol does.
"""

from __future__ import annotations

try:  # the unified package first, then the standalone one: the callback must subclass the user's Callback
    from lightning.pytorch import Callback
except ImportError:  # pragma: no cover - depends on which distribution is installed
    from pytorch_lightning import Callback

from ..train.perturb import perturb, reset_optimizer_state
from . import ScheduledPerturbation

__all__ = ["PerturbationCallback"]


class PerturbationCallback(ScheduledPerturbation, Callback):
    """Perturb the LightningModule with ``protocol`` after epochs τ, 2τ, …"""

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        completed = trainer.current_epoch + 1
        if not self.schedule.due(completed):
            return
        perturb(pl_module, self.schedule.protocol, generator=self.schedule.generator, options=self.schedule.options)
        if self.schedule.protocol.resets_optimizer:
            for optimizer in trainer.optimizers:
                reset_optimizer_state(optimizer, pl_module.parameters())
        self.schedule.perturbed_after.append(completed)
