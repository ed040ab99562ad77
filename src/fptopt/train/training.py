"""Train a block of replicas together, in one process, with stacked weights.

Every replica has its own seed, from which two generators are derived: one
for its initial weights and the fresh draws perturbations need, one for its
data shuffling. The stack is evaluated with ``vmap(functional_call(...))``,
so the work is one batched computation per step instead of a Python loop
over models, while replica ``k`` follows the same trajectory it would
follow alone (tested against a plain PyTorch loop).

Observables are recorded after every epoch, *before* a scheduled
perturbation acts. A replica whose loss turns NaN/inf is marked diverged,
frozen, and its observables are NaN from that epoch on; the others go on.
The state is checkpointed after each epoch so a killed job resumes.

**Stopping at first passage** (:class:`StopAtTarget`): a replica that has met
the target is of no further use to a first-passage estimate, so it stops: it
leaves the stack (the stacked weights, optimizer state and generators are
*compacted* to the replicas still training), and its observables are NaN from
the next epoch on (``stopped`` is True there). Replicas named ``exempt`` train
to the horizon whatever they reach (the full-horizon subset that final and best
accuracy are measured on). Every row says whether the replica was computed in
that epoch (``trained``): their count is the replica-epochs the block cost.
"""

from __future__ import annotations

import sys
import time
import zlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import nn

from .checkpoint import load_checkpoint, save_checkpoint
from .data import Dataset
from .engines import ENGINES, build_forward, channels_last_stack, step_runner
from .models import draw_stacked_state, init_bounds, parameter_names
from .optim import build_optimizer
from .protocols import Protocol, Schedule, apply_protocol


def replica_seed(base_seed: int, condition: str, replica: int) -> int:
    """A 63-bit seed for one replica of one condition, stable across machines.

    Conditions get unrelated streams (baseline and perturbed runs are
    independent samples, as the theory's bootstrap assumes).
    """
    sequence = np.random.SeedSequence([int(base_seed), zlib.crc32(condition.encode()), int(replica)])
    return int(sequence.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


@dataclass(frozen=True)
class TrainSettings:
    """How replicas are trained (one condition, one block)."""

    epochs: int
    batch_size: int
    optimizer: str = "sgd"
    optimizer_options: dict = field(default_factory=dict)
    device: str = "cpu"
    eval_batch_size: int = 2048
    precision: str = "float32"  # or "bf16": autocast of the forward pass on CUDA (weights stay float32)
    engine: str = "vmap"  # or "loop": one plain call per replica (see fptopt.train.engines)
    streams: int = 1  # CUDA streams the loop engine spreads replicas over
    cuda_graph: bool = False  # replay each training step from a CUDA graph
    compile: bool = False  # loop engine: torch.compile the per-replica training call
    channels_last: bool | None = None  # loop engine's memory format; None: channels-last on CUDA

    def __post_init__(self):
        if self.precision not in ("float32", "bf16"):
            raise ValueError(f"training.precision: expected 'float32' or 'bf16', got {self.precision!r}")
        if self.engine not in ENGINES:
            raise ValueError(f"training.engine: expected one of {list(ENGINES)}, got {self.engine!r}")
        if self.cuda_graph and not self.device.startswith("cuda"):
            raise ValueError(f"training.cuda_graph: CUDA graphs need a CUDA device, got device {self.device!r}")

    def autocast(self):
        """bf16 autocast on CUDA when asked for; a no-op context otherwise.

        Autocast's cache of cast weights is off under CUDA graphs, as graph
        capture requires (a cached cast would be a tensor the graph does not own).
        """
        enabled = self.precision == "bf16" and self.device.startswith("cuda")
        return torch.autocast("cuda", dtype=torch.bfloat16, enabled=enabled, cache_enabled=not self.cuda_graph)


@dataclass(frozen=True)
class StopAtTarget:
    """Stop training a replica once ``column`` meets ``target`` (``direction``
    ``"above"``: ``>=``; ``"below"``: ``<=``), except the block positions in
    ``exempt``. ``compact_fraction``: the share of the stack that must have
    stopped before the stack is compacted (0: after every epoch in which one
    stopped; until then a stopped replica stays in the stack, frozen). Under
    CUDA graphs compaction means a new capture, hence a larger share there."""

    column: str
    target: float
    direction: str = "above"
    exempt: frozenset = frozenset()
    compact_fraction: float = 0.0

    def __post_init__(self):
        if self.direction not in ("above", "below"):
            raise ValueError(f"observable.direction: expected 'above' or 'below', got {self.direction!r}")
        if not 0.0 <= self.compact_fraction < 1.0:
            raise ValueError(f"compact_fraction: expected a share in [0, 1), got {self.compact_fraction}")

    def met(self, values: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            hit = values >= self.target if self.direction == "above" else values <= self.target
        return np.isfinite(values) & hit


@dataclass(frozen=True)
class Perturbation:
    """A protocol, its options, and when it acts."""

    protocol: Protocol
    options: dict
    schedule: Schedule


def _at_least_float32(tensor: torch.Tensor) -> torch.Tensor:
    """Losses in float32 after a bf16 forward; float64 models stay float64."""
    return tensor.to(torch.promote_types(tensor.dtype, torch.float32))


INIT_STREAM, DATA_STREAM = 0, 1


def replica_generator(seed: int, stream: int, device: torch.device | str = "cpu") -> torch.Generator:
    """The generator of one replica's stream: INIT_STREAM (initial weights and
    perturbations' fresh draws) or DATA_STREAM (shuffling)."""
    generator = torch.Generator(device=device)
    generator.manual_seed((seed + stream) % (2**63))
    return generator


class ReplicaStack:
    """The live state of a block: weights, optimizer, generators, records."""

    def __init__(self, template: nn.Module, dataset: Dataset, seeds: list[int], settings: TrainSettings,
                 stop: StopAtTarget | None = None):
        self.device = torch.device(settings.device)
        self.template = template.to(self.device)
        self.dataset = dataset.to(self.device)
        self.settings = settings
        self.stop = stop
        self.seeds = list(seeds)
        # Block positions of the replicas in the stack, in order (all of them
        # until some stop), and which of those have stopped but are still in
        # the stack (frozen) waiting for the next compaction.
        self.positions = np.arange(len(seeds))
        self.pending = np.zeros(len(seeds), dtype=bool)
        self.stopped = np.zeros(len(seeds), dtype=bool)
        self.init_generators = [replica_generator(s, INIT_STREAM, self.device) for s in self.seeds]
        self.data_generators = [replica_generator(s, DATA_STREAM, self.device) for s in self.seeds]
        self.forward = build_forward(settings.engine, self.template, self.device, settings.streams,
                                     settings.channels_last, settings.compile)
        state = draw_stacked_state(template, self.init_generators, self.device)
        if getattr(self.forward, "channels_last", False):
            state = {k: channels_last_stack(v) for k, v in state.items()}
        names = set(parameter_names(template))
        self.params = {k: v.requires_grad_(True) for k, v in state.items() if k in names}
        self.buffers = {k: v for k, v in state.items() if k not in names}
        self.weight_names = [k for k in init_bounds(template) if k.endswith("weight")]
        self.optimizer = build_optimizer(settings.optimizer, list(self.params.values()), **settings.optimizer_options)
        self.alive = torch.ones(len(seeds), dtype=torch.bool, device=self.device)
        self.epoch = 0
        self.records: list[dict[str, np.ndarray]] = []
        # A captured step must never read a tensor on the host.
        self.sync_free = settings.cuda_graph
        self._new_step()

    def _new_step(self) -> None:
        """The step's fixed buffers for the current stack size, and its runner
        (a new CUDA graph capture after a compaction)."""
        # A training step reads and writes only these tensors (and the state
        # above), always in place, so that it can be replayed from a CUDA graph.
        size = len(self.positions)
        self._batch_index = torch.zeros(size, self.settings.batch_size, dtype=torch.long, device=self.device)
        self._loss_total = torch.zeros(size, dtype=torch.float64, device=self.device)
        self._run_step = step_runner(self._train_step, self.settings.cuda_graph, self.device)

    @property
    def size(self) -> int:
        """Replicas in the stack (computed every step)."""
        return len(self.positions)

    @torch.no_grad()
    def compact(self, keep: np.ndarray) -> None:
        """Keep only the stack's replicas where ``keep`` (a mask over the
        stack): weights, buffers, optimizer state and generators alike, so
        that the others cost nothing from now on."""
        index = torch.as_tensor(np.flatnonzero(keep), dtype=torch.long, device=self.device)
        relayout = channels_last_stack if getattr(self.forward, "channels_last", False) else (lambda t: t)
        self.params = {k: relayout(v.detach()[index].clone()).requires_grad_(True) for k, v in self.params.items()}
        self.buffers = {k: relayout(v[index].clone()) for k, v in self.buffers.items()}
        state = _select_replicas(self.optimizer.state_dict(), index)
        self.optimizer = build_optimizer(self.settings.optimizer, list(self.params.values()),
                                         **self.settings.optimizer_options)
        self.optimizer.load_state_dict(state)
        kept = np.flatnonzero(keep)
        self.init_generators = [self.init_generators[i] for i in kept]
        self.data_generators = [self.data_generators[i] for i in kept]
        self.alive = self.alive[index].clone()
        self.positions = self.positions[keep]
        self.pending = self.pending[keep]
        self._new_step()

    def _losses(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean loss per replica: outputs (R, B, C), targets (R, B) or (R, B, 1)."""
        if self.dataset.task == "classification":
            log_probs = torch.log_softmax(outputs, dim=-1)
            return -log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1).mean(dim=1)
        return ((outputs - targets) ** 2).flatten(1).mean(dim=1)

    def _train_step(self) -> None:
        """One optimizer step of every replica on the batch in ``_batch_index``."""
        index = self._batch_index
        inputs, targets = self.dataset.x_train[index], self.dataset.y_train[index]
        with self.settings.autocast():
            outputs = self.forward.train({**self.params, **self.buffers}, inputs)
        losses = self._losses(_at_least_float32(outputs), targets)
        self.alive &= torch.isfinite(losses.detach())
        objective = torch.where(self.alive, losses, torch.zeros_like(losses)).sum()
        grads = torch.autograd.grad(objective, list(self.params.values()))
        self.optimizer.step(list(grads), self.alive, sync_free=self.sync_free)
        self._loss_total += losses.detach().double()

    def train_epoch(self) -> np.ndarray:
        """One pass over the training set, each replica in its own order."""
        n_train = self.dataset.x_train.shape[0]
        batch = self.settings.batch_size
        if self.size == 0:
            return np.zeros(0)
        order = torch.stack(
            [torch.randperm(n_train, generator=g, device=self.device) for g in self.data_generators]
        )
        self.template.train()
        self._loss_total.zero_()
        n_steps = n_train // batch  # the last partial batch is dropped
        for step in range(n_steps):
            self._batch_index.copy_(order[:, step * batch : (step + 1) * batch])
            self._run_step()
        return (self._loss_total / max(n_steps, 1)).cpu().numpy()

    @torch.no_grad()
    def evaluate(self) -> dict[str, np.ndarray]:
        """Test loss and score of every replica on the whole test set."""
        self.template.eval()
        x_test, y_test = self.dataset.x_test, self.dataset.y_test
        score_name = "test_acc" if self.dataset.task == "classification" else "test_r2"
        if self.size == 0:
            return {"test_loss": np.zeros(0), score_name: np.zeros(0)}
        state = {**{k: v.detach() for k, v in self.params.items()}, **self.buffers}
        loss_sum = torch.zeros(self.size, dtype=torch.float64, device=self.device)
        hits = torch.zeros_like(loss_sum)
        for start in range(0, x_test.shape[0], self.settings.eval_batch_size):
            inputs = x_test[start : start + self.settings.eval_batch_size]
            targets = y_test[start : start + self.settings.eval_batch_size]
            with self.settings.autocast():
                outputs = _at_least_float32(self.forward.evaluate(state, inputs))
            expanded = targets.unsqueeze(0).expand(outputs.shape[0], *targets.shape)
            loss_sum += self._losses(outputs, expanded).double() * inputs.shape[0]
            if self.dataset.task == "classification":
                hits += (outputs.argmax(dim=-1) == expanded).double().sum(dim=1)
        n_test = x_test.shape[0]
        test_loss = loss_sum / n_test
        if self.dataset.task == "classification":
            score_name, score = "test_acc", 100.0 * hits / n_test
        else:  # coefficient of determination, in %: 100·(1 − MSE / Var(y_test))
            score_name, score = "test_r2", 100.0 * (1.0 - test_loss / y_test.double().var(unbiased=False))
        return {"test_loss": test_loss.cpu().numpy(), score_name: score.cpu().numpy()}

    @torch.no_grad()
    def perturb(self, perturbation: Perturbation, acts: np.ndarray | None = None) -> None:
        """Apply the protocol to the live replicas (of those, only where ``acts``,
        a mask over the stack, when given), each with its own fresh draw."""
        if self.size == 0:
            return
        fresh = draw_stacked_state(self.template, self.init_generators, self.device)
        state = {**{k: v.detach() for k, v in self.params.items()}, **self.buffers}
        mask = self.alive if acts is None else self.alive & torch.as_tensor(acts, device=self.device)
        new_state = apply_protocol(perturbation.protocol, state, fresh, mask, perturbation.options,
                                   self.weight_names)
        # In place: a captured CUDA graph holds the addresses of these tensors.
        for name, tensor in {**self.params, **self.buffers}.items():
            tensor.copy_(new_state[name])
        if perturbation.protocol.resets_optimizer:
            self.optimizer.reset(mask)

    def run_epoch(self, perturbation: Perturbation | None) -> None:
        train_loss = self.train_epoch()
        observed = self.evaluate()
        self.epoch += 1
        finite = np.isfinite(observed["test_loss"]) & np.isfinite(train_loss)
        self.alive &= torch.as_tensor(finite, device=self.device)
        alive = self.alive.cpu().numpy()
        # Frozen because they stopped, not because they diverged: still recorded as stopped.
        diverged = ~alive & ~self.pending
        # Per replica of the block (a Poisson timer decides for each; a period for all).
        acts = (perturbation.schedule.acts_on(self.epoch, self.seeds) if perturbation is not None
                else np.zeros(len(self.seeds), dtype=bool))
        n_block = len(self.seeds)

        def per_block(values, fill=np.nan):  # stack → block positions (NaN or False elsewhere)
            out = np.full(n_block, fill)
            out[self.positions] = values
            return out

        recorded = alive & ~self.pending
        record = {name: per_block(np.where(recorded, values, np.nan)) for name, values in observed.items()}
        record["train_loss"] = per_block(np.where(recorded, train_loss, np.nan))
        record["diverged"] = per_block(diverged, fill=False)
        record["perturbed_after"] = acts
        record["trained"] = per_block(np.ones(self.size, dtype=bool), fill=False)
        record["stopped"] = self.stopped.copy()
        self.records.append(record)
        if self.stop is not None and self.size:
            values = record[self.stop.column][self.positions]
            exempt = np.isin(self.positions, list(self.stop.exempt))
            passed = self.stop.met(values) & recorded & ~exempt
            if passed.any():
                self.pending |= passed
                self.stopped[self.positions[passed]] = True
                self.alive &= torch.as_tensor(~passed, device=self.device)
            if self.pending.any() and self.pending.sum() >= self.stop.compact_fraction * self.size:
                self.compact(~self.pending)
        if perturbation is not None and perturbation.schedule.rate is not None:
            # A timer: every replica draws its fresh state after every epoch, acting
            # or not, so its init stream never depends on the other replicas' draws.
            self.perturb(perturbation, acts[self.positions])
        elif acts.any():
            self.perturb(perturbation)

    # -- checkpointing ----------------------------------------------------------
    def snapshot(self) -> dict:
        """A copy of the state on the CPU (never a view of the live tensors)."""
        copy = lambda tensor: tensor.detach().to("cpu", copy=True)  # noqa: E731
        return {
            "epoch": self.epoch,
            "params": {k: copy(v) for k, v in self.params.items()},
            "buffers": {k: copy(v) for k, v in self.buffers.items()},
            "optimizer": self.optimizer.state_dict(),
            "init_generators": [g.get_state() for g in self.init_generators],
            "data_generators": [g.get_state() for g in self.data_generators],
            "alive": copy(self.alive),
            "records": list(self.records),
            "positions": self.positions.copy(),
            "pending": self.pending.copy(),
            "stopped": self.stopped.copy(),
        }

    @torch.no_grad()
    def restore(self, snapshot: dict) -> None:
        if not np.array_equal(snapshot["positions"], self.positions):  # replicas had stopped: the same stack first
            self.compact(np.isin(self.positions, snapshot["positions"]))
        self.pending = np.array(snapshot["pending"])
        self.stopped = np.array(snapshot["stopped"])
        self.epoch = snapshot["epoch"]
        for name, param in self.params.items():
            param.copy_(snapshot["params"][name])
        for name, buffer in self.buffers.items():
            buffer.copy_(snapshot["buffers"][name])
        self.optimizer.load_state_dict(snapshot["optimizer"])
        for gen, state in zip(self.init_generators + self.data_generators,
                              snapshot["init_generators"] + snapshot["data_generators"], strict=True):
            gen.set_state(state)
        self.alive.copy_(snapshot["alive"])
        self.records = list(snapshot["records"])

    def table(self, replica_ids: list[int]) -> pd.DataFrame:
        """Tidy records: one row per replica × epoch."""
        frames = []
        for epoch, record in enumerate(self.records, start=1):
            frame = pd.DataFrame({"replica": replica_ids, "seed": self.seeds, "epoch": epoch})
            for name, values in record.items():
                frame[name] = values
            frames.append(frame)
        table = pd.concat(frames, ignore_index=True)
        return table.sort_values(["replica", "epoch"], kind="stable").reset_index(drop=True)


def _select_replicas(state, index: torch.Tensor):
    """An optimizer state (tensors with the replica axis first, in lists and
    dicts) restricted to the replicas ``index``."""
    if isinstance(state, torch.Tensor):
        return state[index.to(state.device)].clone()
    if isinstance(state, dict):
        return {key: _select_replicas(value, index) for key, value in state.items()}
    if isinstance(state, (list, tuple)):
        return type(state)(_select_replicas(value, index) for value in state)
    return state


def train_block(
    template: nn.Module,
    dataset: Dataset,
    seeds: list[int],
    replica_ids: list[int],
    settings: TrainSettings,
    perturbation: Perturbation | None = None,
    checkpoint_path=None,
    fingerprint: str = "",
    label: str = "train",
    progress_every: int = 10,
    checkpoint_every: int = 1,
    stop: StopAtTarget | None = None,
) -> pd.DataFrame:
    """Train one block of replicas for ``settings.epochs`` epochs.

    With ``checkpoint_path`` the state is saved after every
    ``checkpoint_every``-th epoch and a matching checkpoint (same
    ``fingerprint``) is resumed from, so a killed job continues from its last
    checkpoint and ends bit-identical on CPU. With ``stop`` a replica stops
    once it meets the target (module doc); the checkpoint records which.
    """
    if checkpoint_every < 1:
        raise ValueError(f"checkpoint_every: expected at least 1 epoch, got {checkpoint_every}")
    stack = ReplicaStack(template, dataset, seeds, settings, stop)
    if checkpoint_path is not None:
        snapshot = load_checkpoint(checkpoint_path, fingerprint)
        if snapshot is not None:
            stack.restore(snapshot)
            print(f"[{label}] resumed from epoch {stack.epoch} ({checkpoint_path})", file=sys.stderr, flush=True)
    started = time.perf_counter()
    while stack.epoch < settings.epochs:
        stack.run_epoch(perturbation)
        if checkpoint_path is not None and stack.epoch % checkpoint_every == 0:
            save_checkpoint(checkpoint_path, fingerprint, stack.snapshot())
        if stack.epoch % progress_every == 0 or stack.epoch == settings.epochs:
            score = next(v for k, v in stack.records[-1].items() if k.startswith("test_") and k != "test_loss")
            mean = f"{np.nanmean(score):.2f}" if np.isfinite(score).any() else "-"
            trained = sum(int(record["trained"].sum()) for record in stack.records)
            print(
                f"[{label}] epoch {stack.epoch}/{settings.epochs}  mean score {mean}  "
                f"training {int(stack.alive.sum())}/{len(seeds)} (stopped {int(stack.stopped.sum())})  "
                f"replica-epochs {trained}  {time.perf_counter() - started:.1f} s",
                file=sys.stderr,
                flush=True,
            )
    return stack.table(replica_ids)
