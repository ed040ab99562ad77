"""The forward engines, the CUDA-graph step runner and the execution settings.

The loop engine's fidelity to a plain PyTorch loop is tested with the other
trainer tests (tests/test_training.py, tests/test_cifar.py); CUDA graphs
themselves need a GPU (bench/gpu_smoke.py), so here their replay logic runs
against a stand-in graph that, like CUDA stream capture, records instead of
executing.
"""

import contextlib
import json
import platform
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from torch.utils._python_dispatch import TorchDispatchMode

from fptopt.pipeline.config import parse_config
from fptopt.pipeline.jobs import Job, condition_section
from fptopt.pipeline.provenance import LIBRARIES
from fptopt.pipeline.train_job import run_training_job
from fptopt.storage import config_hash, read_table
from fptopt.train import engines
from fptopt.train.data import Dataset
from fptopt.train.engines import GraphedStep, LoopForward, VmapForward, channels_last_stack
from fptopt.train.models import build_model, draw_stacked_state
from fptopt.train.optim import build_optimizer
from fptopt.train.protocols import Schedule, get_protocol
from fptopt.train.training import Perturbation, ReplicaStack, TrainSettings

ROOT = Path(__file__).resolve().parents[1]


def test_channels_last_stack_keeps_values_and_makes_every_slice_channels_last():
    stacked = torch.randn(3, 8, 4, 3, 3)
    converted = channels_last_stack(stacked)
    torch.testing.assert_close(converted, stacked, rtol=0, atol=0)
    assert all(converted[k].is_contiguous(memory_format=torch.channels_last) for k in range(3))
    assert not stacked[0].is_contiguous(memory_format=torch.channels_last)
    bias = torch.randn(3, 8)
    assert channels_last_stack(bias) is bias


def test_loop_and_vmap_engines_compute_the_same_outputs_and_gradients():
    template = build_model("resnet18_cifar", (3, 32, 32), 10, width=4).double()
    generators = [torch.Generator().manual_seed(s) for s in (1, 2, 3)]
    state = draw_stacked_state(template, generators)
    inputs = torch.randn(3, 5, 3, 32, 32, dtype=torch.float64)
    results = []
    for forward in (VmapForward(template), LoopForward(template, torch.device("cpu"), channels_last=True)):
        params = {k: v.clone().requires_grad_(v.is_floating_point() and "running" not in k)
                  for k, v in state.items()}
        outputs = forward.train(params, inputs)
        grads = torch.autograd.grad(outputs.square().sum(), [params["conv1.weight"], params["linear.weight"]])
        shared = forward.evaluate({k: v.detach() for k, v in params.items()}, inputs[0])
        results.append((outputs, grads, params["bn1.running_mean"], shared))
    (out_v, grads_v, mean_v, shared_v), (out_l, grads_l, mean_l, shared_l) = results
    torch.testing.assert_close(out_l, out_v)
    for g_l, g_v in zip(grads_l, grads_v, strict=True):
        torch.testing.assert_close(g_l, g_v)
    torch.testing.assert_close(mean_l, mean_v)  # running statistics written through the slices
    assert not torch.equal(mean_l, state["bn1.running_mean"])
    torch.testing.assert_close(shared_l, shared_v)


def test_compiled_loop_engine_follows_the_eager_loop_engine():
    """torch.compile of the per-replica call (one graph for all replicas, running
    statistics mutated through the slices) changes only float rounding."""
    x = torch.randn(96, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, 10, (96,), generator=torch.Generator().manual_seed(1))
    dataset = Dataset("fake", x, y, x[:48].clone(), y[:48].clone(), "classification", 10)
    template = build_model("resnet18_cifar", (3, 8, 8), 10, width=2)
    perturbation = Perturbation(get_protocol("shrink_perturb"), {"shrink": 0.4, "noise": 0.1}, Schedule(period=1))
    stacks = []
    for compile in (False, True):
        settings = TrainSettings(epochs=2, batch_size=32, optimizer_options={"lr": 0.05, "momentum": 0.9},
                                 engine="loop", compile=compile)
        stack = ReplicaStack(template, dataset, [5, 6], settings)
        for _ in range(2):
            stack.run_epoch(perturbation)
        stacks.append(stack)
    eager, compiled = stacks
    for name in ("conv1.weight", "linear.weight", "bn1.running_mean", "bn1.running_var"):
        state = eager.params if name in eager.params else eager.buffers
        other = compiled.params if name in compiled.params else compiled.buffers
        torch.testing.assert_close(other[name].detach(), state[name].detach(), rtol=1e-4, atol=1e-5)
    assert not torch.equal(eager.buffers["bn1.running_mean"][0], eager.buffers["bn1.running_mean"][1])


@pytest.mark.parametrize("break_what", ["output", "buffer"])
def test_a_compiled_call_that_changes_training_is_refused_on_first_use(break_what):
    """The compiled call is checked against the eager call once; a compiler
    that changes the output or a running statistic stops the run."""
    template = build_model("resnet18_cifar", (3, 8, 8), 10, width=2)
    state = draw_stacked_state(template, [torch.Generator().manual_seed(s) for s in (1, 2)])
    state = {k: v.clone().requires_grad_(v.is_floating_point() and "running" not in k) for k, v in state.items()}
    forward = LoopForward(template, torch.device("cpu"), compile=True)
    eager = forward._call

    def miscompiled(replica_state, inputs):
        output = eager(replica_state, inputs)
        if break_what == "buffer":
            replica_state["bn1.running_mean"].data.add_(1e-3)
            return output
        return output + 0.01

    forward._compiled = miscompiled
    with pytest.raises(RuntimeError, match=rf"training.compile: .*{break_what}.*set training.compile: false"):
        forward.train(state, torch.randn(2, 4, 3, 8, 8))


def test_compile_mismatches_accepts_the_eager_call_itself():
    template = build_model("mlp", (64,), 10, hidden=[8])
    state = {k: v.clone().requires_grad_(True) for k, v in
             draw_stacked_state(template, [torch.Generator().manual_seed(0)]).items()}
    replica = {k: v[0] for k, v in state.items()}
    reference = {k: v.detach().clone().requires_grad_(True) for k, v in replica.items()}
    inputs = torch.randn(5, 64)
    forward = LoopForward(template, torch.device("cpu"))
    assert engines.compile_mismatches(replica, state, reference, forward._call(replica, inputs),
                                      forward._call(reference, inputs)) == []


@pytest.mark.parametrize("name, options", [("sgd", {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.01}),
                                           ("adam", {"lr": 0.01})])
@pytest.mark.parametrize("active", [[True, True, True], [True, False, True]])
def test_sync_free_optimizer_step_is_bitwise_the_usual_step(name, options, active):
    generator = torch.Generator().manual_seed(0)
    params = [torch.randn(3, 4, 5, generator=generator), torch.randn(3, 7, generator=generator)]
    grads = [[torch.randn_like(p) for p in params] for _ in range(3)]
    mask = torch.tensor(active)
    finals = []
    for sync_free in (False, True):
        copies = [p.clone() for p in params]
        optimizer = build_optimizer(name, copies, **options)
        for step_grads in grads:
            optimizer.step(step_grads, mask, sync_free=sync_free)
        finals.append(copies)
    for usual, sync_free in zip(*finals, strict=True):
        torch.testing.assert_close(sync_free, usual, rtol=0, atol=0)


class StandInCapture:
    """CUDA stream capture's contract: work issued while capturing is recorded, not run."""

    recording: list | None = None

    class Graph:
        def __init__(self):
            self.work = []

        def replay(self):
            for work in self.work:
                work()

    @classmethod
    @contextlib.contextmanager
    def capture(cls, graph):
        cls.recording = graph.work
        try:
            yield
        finally:
            cls.recording = None

    @classmethod
    def issue(cls, work):
        if cls.recording is not None:
            cls.recording.append(work)
        else:
            work()


class StandInStream:
    def wait_stream(self, other):
        pass


@pytest.fixture
def stand_in_cuda(monkeypatch):
    monkeypatch.setattr(engines.torch.cuda, "Stream", StandInStream)
    monkeypatch.setattr(engines.torch.cuda, "stream", lambda stream: contextlib.nullcontext())
    monkeypatch.setattr(engines.torch.cuda, "current_stream", StandInStream)
    monkeypatch.setattr(engines.torch.cuda, "CUDAGraph", StandInCapture.Graph)
    monkeypatch.setattr(engines.torch.cuda, "graph", StandInCapture.capture)


@pytest.mark.parametrize("warmup", [1, 3])
def test_graphed_step_applies_every_step_exactly_once_in_order(stand_in_cuda, warmup):
    state = {"x": 1.0, "batch": 0, "seen": []}

    def step():  # x ← 0.5·x + batch: the result depends on the order and count of steps
        def work():  # reads the batch when it runs, as a kernel reads a fixed buffer
            state["x"] = 0.5 * state["x"] + state["batch"]
            state["seen"].append(state["batch"])

        StandInCapture.issue(work)

    runner = GraphedStep(step, warmup=warmup)
    expected = 1.0
    for batch in range(1, 8):
        state["batch"] = batch
        runner()
        expected = 0.5 * expected + batch
    assert runner.graph is not None and len(runner.graph.work) == 1  # captured once, after the warm-up
    assert state["seen"] == list(range(1, 8))
    assert state["x"] == expected
    with pytest.raises(ValueError, match="at least 1 eager call"):
        GraphedStep(step, warmup=0)


def test_execution_settings_are_checked():
    with pytest.raises(ValueError, match="training.engine: expected one of"):
        TrainSettings(epochs=2, batch_size=4, engine="grouped")
    with pytest.raises(ValueError, match="training.cuda_graph: CUDA graphs need a CUDA device"):
        TrainSettings(epochs=2, batch_size=4, cuda_graph=True)
    template = build_model("mlp", (4,), 2)
    with pytest.raises(ValueError, match="only the 'loop' engine"):
        engines.build_forward("vmap", template, torch.device("cpu"), streams=2)
    with pytest.raises(ValueError, match="at least 1 stream"):
        LoopForward(template, torch.device("cpu"), streams=0)


def test_the_engine_is_an_execution_choice_recorded_but_not_hashed(tmp_path):
    config = parse_config(yaml.safe_load((ROOT / "tests/config/tiny.yaml").read_text()))
    config["training"].update(replicas=4, replicas_per_job=4, epochs=3)
    job = Job("train_sweep", "shrink_perturb", 2, 0)
    tables = {}
    for engine in ("vmap", "loop"):
        config["training"]["engine"] = engine
        out = tmp_path / f"{engine}.parquet"
        run_training_job(config, job, out)
        tables[engine] = read_table(out)
        sidecar = json.loads(Path(str(out) + ".provenance.json").read_text())
        assert sidecar["engine"] == engine and sidecar["cuda_graph"] is False
        versions = sidecar["versions"]
        assert versions["torch"] == torch.__version__.split("+")[0] or versions["torch"] == torch.__version__
        assert versions["numpy"] == np.__version__ and versions["python"] == platform.python_version()
        assert "cuda" in versions and set(LIBRARIES) <= set(versions)
    hashes = {config_hash(condition_section({**config, "training": {**config["training"], "engine": e, "streams": s}}, job))
              for e, s in (("vmap", 1), ("loop", 4))}
    assert len(hashes) == 1
    vmap, loop = tables["vmap"], tables["loop"]
    assert (vmap["perturbed_after"] == loop["perturbed_after"]).all() and vmap["perturbed_after"].any()
    # Same replicas, seeds and updates; only float rounding of batched vs per-replica matmuls may differ.
    torch.testing.assert_close(torch.tensor(loop["train_loss"].to_numpy()), torch.tensor(vmap["train_loss"].to_numpy()),
                               rtol=1e-4, atol=1e-6)
    assert (vmap["test_acc"] - loop["test_acc"]).abs().max() <= 100.0 / 597 + 1e-9


def test_a_dense_block_is_the_periodic_runs_next_block_bit_for_bit(tmp_path):
    """regret.replicas beyond a periodic run's: train_dense trains replicas
    sweep_replicas.. of the same condition, the rows a periodic run with more
    replicas would have had (same seeds, same stack of replicas)."""
    config = parse_config(yaml.safe_load((ROOT / "tests/config/tiny.yaml").read_text()))
    config["training"].update(replicas=3, replicas_per_job=3, sweep_replicas=3, epochs=4, full_horizon_replicas=1)
    config["regret"].update(replicas=6, replicas_per_job=3)
    config["observable"]["target"] = 85.0  # reached within 4 epochs: replicas stop
    run_training_job(config, Job("train_dense", "shrink_perturb", 2, 0), tmp_path / "dense.parquet")
    more = {**config, "training": {**config["training"], "sweep_replicas": 6}}
    run_training_job(more, Job("train_sweep", "shrink_perturb", 2, 1), tmp_path / "sweep.parquet")
    dense, sweep = read_table(tmp_path / "dense.parquet"), read_table(tmp_path / "sweep.parquet")
    assert sorted(dense["replica"].unique()) == [3, 4, 5]
    pd.testing.assert_frame_equal(dense, sweep)
    assert dense["stopped"].any()  # the target stops them as in any first-passage stage


class HostSyncForbidden(TorchDispatchMode):
    """Fails on every operation that makes the host wait for a tensor's value
    (what ``bool(t)``, ``t.item()`` and data-dependent shapes need): inside a
    CUDA graph capture these are errors."""

    SYNCING = {torch.ops.aten._local_scalar_dense.default, torch.ops.aten.nonzero.default,
               torch.ops.aten.masked_select.default}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func in self.SYNCING:
            raise RuntimeError(f"host synchronization in a sync-free step: {func}")
        return func(*args, **(kwargs or {}))


def small_cnn_stack(engine: str, optimizer: str = "sgd") -> ReplicaStack:
    x = torch.randn(64, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, 10, (64,), generator=torch.Generator().manual_seed(1))
    dataset = Dataset("fake", x, y, x[:32].clone(), y[:32].clone(), "classification", 10)
    template = build_model("resnet18_cifar", (3, 8, 8), 10, width=2)
    options = {"sgd": {"lr": 0.05, "momentum": 0.9}, "adam": {"lr": 0.01}}[optimizer]
    settings = TrainSettings(epochs=3, batch_size=16, optimizer=optimizer, optimizer_options=options, engine=engine)
    return ReplicaStack(template, dataset, [3, 4], settings)


@pytest.mark.parametrize("engine", ["vmap", "loop"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_a_sync_free_training_step_never_waits_for_the_device(engine, optimizer):
    stack = small_cnn_stack(engine, optimizer)
    stack._batch_index.copy_(torch.arange(32).view(2, 16))
    stack.sync_free = True  # what training.cuda_graph sets on CUDA
    with HostSyncForbidden():
        stack._train_step()
        stack._train_step()
    if optimizer == "sgd":  # the check bites: SGD's all-alive shortcut reads a flag on the host
        stack.sync_free = False
        with pytest.raises(RuntimeError, match="host synchronization"), HostSyncForbidden():
            stack._train_step()


def storage_of(stack: ReplicaStack) -> dict[str, int]:
    tensors = {f"param {k}": v for k, v in stack.params.items()}
    tensors.update({f"buffer {k}": v for k, v in stack.buffers.items()})
    tensors.update({f"optimizer {i}": v for i, v in enumerate(stack.optimizer.buffers)})
    tensors.update(alive=stack.alive, batch_index=stack._batch_index, loss_total=stack._loss_total)
    return {name: tensor.data_ptr() for name, tensor in tensors.items()}


def test_the_tensors_a_captured_step_uses_keep_their_storage(tmp_path):
    """A CUDA graph replays on fixed addresses: perturbations, resets and a
    restore from a checkpoint must write into the same tensors, not replace them."""
    stack = small_cnn_stack("loop")
    before = storage_of(stack)
    for protocol, options in (("shrink_perturb", {"shrink": 0.4, "noise": 0.1}), ("full_reset", {}),
                              ("partial_reset", {"fraction": 0.3})):
        stack.run_epoch(Perturbation(get_protocol(protocol), options, Schedule(period=1)))
    snapshot = stack.snapshot()
    stack.run_epoch(None)
    stack.restore(snapshot)
    assert storage_of(stack) == before
    assert stack.epoch == 3 and len(stack.records) == 3
