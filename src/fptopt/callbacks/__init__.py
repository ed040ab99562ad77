"""Perturbation callbacks for other trainers: train the period ``fptopt analyze`` names
in PyTorch Lightning, the Hugging Face ``Trainer`` or Keras 3, with the pipeline's semantics.

Each perturbs after epochs τ, 2τ, … (or the listed ``epochs=[…]`` of a schedule)
once that epoch's evaluation is done, with
:func:`fptopt.train.perturb.perturb` (a Keras model through the same protocol
functions), and records the epochs it perturbed after (``perturbed_after``).
Each module imports its library, so install the matching extra::

    pip install "fptopt[lightning]"      # fptopt.callbacks.lightning.PerturbationCallback
    pip install "fptopt[huggingface]"    # fptopt.callbacks.huggingface.PerturbationCallback
    pip install "fptopt[keras]"          # fptopt.callbacks.keras.PerturbationCallback (KERAS_BACKEND=torch)
"""

from __future__ import annotations


class PerturbationSchedule:
    """Which epochs a callback perturbs after (1-based: every ``tau``, or the listed
    ``epochs`` of a schedule beyond periods, e.g. the one ``fptopt analyze
    --search-schedules`` names), and its random stream."""

    def __init__(self, protocol: str, tau: int | None = None, *, epochs=None, seed: int = 0,
                 options: dict | None = None):
        import torch

        from ..train.perturb import resolve_protocol
        from ..train.protocols import Schedule

        if (tau is None) == (epochs is None):
            raise ValueError("give a period tau or a list of epochs, not both")
        if tau is not None and int(tau) < 1:
            raise ValueError(f"tau: expected a period of at least 1 epoch, got {tau}")
        self.epochs = None if epochs is None else sorted({int(e) for e in epochs})
        if self.epochs is not None and (not self.epochs or self.epochs[0] < 1):
            raise ValueError(f"epochs: expected epochs of at least 1, got {epochs}")
        self.protocol = resolve_protocol(protocol)
        self.tau = None if tau is None else int(tau)
        # The pipeline trainer's own rule for when a schedule acts.
        self._when = Schedule(period=self.tau, epochs=tuple(self.epochs or ()))
        self.options = dict(options or {})
        self.generator = torch.Generator().manual_seed(int(seed))
        self.perturbed_after: list[int] = []

    def due(self, completed_epochs: int) -> bool:
        """True right after epoch ``completed_epochs`` (1-based) when it is a multiple of τ
        (or one of the ``epochs``), once."""
        return (completed_epochs > 0 and self._when.acts_after(completed_epochs)
                and completed_epochs not in self.perturbed_after)


class ScheduledPerturbation:
    """What every callback shares: its :class:`PerturbationSchedule` (``self.schedule``) and
    ``perturbed_after``. Mixed in before the library's callback class, whose ``__init__``
    takes no arguments."""

    def __init__(self, protocol: str, tau: int | None = None, *, epochs=None, seed: int = 0,
                 options: dict | None = None):
        self.schedule = PerturbationSchedule(protocol, tau, epochs=epochs, seed=seed, options=options)
        super().__init__()

    @property
    def perturbed_after(self) -> list[int]:
        return self.schedule.perturbed_after
