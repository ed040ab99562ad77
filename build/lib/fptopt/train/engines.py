"""How a stack of replicas runs its forward pass, and how a step is launched.

Two forward engines compute the same function of a stacked state
(every tensor with the replica axis first):

``vmap``
    ``vmap(functional_call(template, …))``: one batched computation. Cheap
    to launch and the fastest choice for small models on the CPU, but a
    convolution with per-replica weights becomes a *grouped* convolution,
    for which cuDNN picks slow kernels (measured in ``bench/results``).
``loop``
    one ordinary call of the template per replica on that replica's slice of
    the stack, so every convolution is a plain one. The slices come from
    ``unbind`` (their backward is one ``stack`` per tensor, not one
    full-size gradient per replica), and running statistics are updated in
    place through the slices. Optionally each replica runs on one of several
    CUDA streams, on CUDA 4-d inputs go channels-last, and the training call
    is compiled by ``torch.compile`` (one compiled graph serves every replica:
    the slices are inputs of the same shapes), which fuses the elementwise
    work around the convolutions.

:class:`GraphedStep` replays a training step from a CUDA graph: the first
calls run eagerly (they are real steps), the next one is captured and
replayed, and every later call is one replay. The step must read its inputs
from tensors that keep their storage (the caller copies each batch's indices
into a fixed buffer) and must not synchronize with the host.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from torch.func import functional_call, vmap

ENGINES = ("vmap", "loop")
Stack = dict[str, torch.Tensor]


class VmapForward:
    """The stack as one vectorized call of the template."""

    def __init__(self, template: nn.Module):
        self.template = template

    def _call(self, state: Stack, inputs: torch.Tensor) -> torch.Tensor:
        return functional_call(self.template, state, (inputs,))

    def train(self, state: Stack, inputs: torch.Tensor) -> torch.Tensor:
        """``inputs`` (R, B, …), one batch per replica → outputs (R, B, …)."""
        return vmap(self._call)(state, inputs)

    def evaluate(self, state: Stack, inputs: torch.Tensor) -> torch.Tensor:
        """``inputs`` (B, …), shared by all replicas → outputs (R, B, …)."""
        return vmap(self._call, in_dims=(0, None))(state, inputs)


class LoopForward:
    """One plain call of the template per replica, on its slice of the stack."""

    def __init__(self, template: nn.Module, device: torch.device, streams: int = 1, channels_last: bool = False,
                 compile: bool = False):
        if streams < 1:
            raise ValueError(f"training.streams: expected at least 1 stream, got {streams}")
        self.template = template
        self.channels_last = channels_last
        # Evaluation stays eager: it is a small share of the work, and its
        # last chunk's odd size would cost another compilation.
        self._compiled = torch.compile(self._call, dynamic=False) if compile else None
        self._train_call = self._checked_compiled_call if compile else self._call
        self._compile_checked = False
        on_cuda = device.type == "cuda"
        self.streams = [torch.cuda.Stream(device) for _ in range(streams)] if on_cuda and streams > 1 else []

    def _prepare(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.channels_last and inputs.dim() == 4:
            return inputs.contiguous(memory_format=torch.channels_last)
        return inputs

    def _call(self, state: Stack, inputs: torch.Tensor) -> torch.Tensor:
        return functional_call(self.template, state, (inputs,))

    def _per_replica(self, state: Stack, batches: Callable[[int], torch.Tensor], call) -> torch.Tensor:
        slices = {name: tensor.unbind(0) for name, tensor in state.items()}
        n_replicas = len(next(iter(slices.values())))
        if not self.streams:
            outputs = [call({n: s[k] for n, s in slices.items()}, self._prepare(batches(k))) for k in range(n_replicas)]
            return torch.stack(outputs)
        main = torch.cuda.current_stream()
        for stream in self.streams:
            stream.wait_stream(main)
        outputs = []
        for k in range(n_replicas):
            stream = self.streams[k % len(self.streams)]
            with torch.cuda.stream(stream):
                output = call({n: s[k] for n, s in slices.items()}, self._prepare(batches(k)))
            # The output is consumed on the main stream: keep its memory from
            # being reused by the side stream before that happens.
            output.record_stream(main)
            outputs.append(output)
        for stream in self.streams:
            main.wait_stream(stream)
        return torch.stack(outputs)

    def _checked_compiled_call(self, state: Stack, inputs: torch.Tensor) -> torch.Tensor:
        """The compiled call; before its first use it runs on a copy of the
        replica (a slice of a stack, like the real state) beside the eager
        call on another copy, and any difference beyond float rounding in the
        output, the gradients or the updated buffers stops the run: whether
        the compiler changes training depends on the torch release and the
        machine."""
        if not self._compile_checked:
            reference = _detached_copy(state)
            expected = self._call(reference, inputs)
            stacked = {name: tensor.unsqueeze(0) for name, tensor in _detached_copy(state).items()}
            probe = {name: tensor.unbind(0)[0] for name, tensor in stacked.items()}
            problems = compile_mismatches(probe, stacked, reference, self._compiled(probe, inputs), expected)
            if problems:
                raise RuntimeError(
                    f"training.compile: torch.compile (torch {torch.__version__}) does not reproduce the eager "
                    f"training call on this machine ({'; '.join(problems)}); set training.compile: false")
            self._compile_checked = True
        return self._compiled(state, inputs)

    def train(self, state: Stack, inputs: torch.Tensor) -> torch.Tensor:
        return self._per_replica(state, lambda k: inputs[k], self._train_call)

    def evaluate(self, state: Stack, inputs: torch.Tensor) -> torch.Tensor:
        prepared = self._prepare(inputs)
        return self._per_replica(state, lambda k: prepared, self._call)


def _detached_copy(state: Stack) -> Stack:
    return {name: tensor.detach().clone().requires_grad_(tensor.requires_grad) for name, tensor in state.items()}


def compile_mismatches(probe: Stack, probe_leaves: Stack, reference: Stack, output: torch.Tensor,
                       expected: torch.Tensor, rtol: float = 1e-4, atol: float = 1e-5) -> list[str]:
    """Differences beyond float rounding between a compiled call on ``probe``
    (views of the leaves ``probe_leaves``) giving ``output`` and the eager call
    on ``reference`` giving ``expected``: the output, the gradient of the
    output's sum with respect to every trainable tensor, and every buffer the
    call updated in place."""

    def close(a, b):
        # Tolerances relative to the tensor's scale: a gradient is a sum of
        # many terms whose rounding scales with its largest entries.
        scale = float(b.abs().max()) if b.numel() else 0.0
        return a.shape == b.shape and torch.allclose(a.float(), b.float(), rtol=rtol, atol=atol + rtol * scale)

    problems = [] if close(output.detach(), expected.detach()) else ["output"]
    trainable = [name for name, tensor in reference.items() if tensor.requires_grad]
    if trainable and output.requires_grad:
        # A random projection of the output, not its sum: behind a BatchNorm
        # the gradient of a plain sum is zero up to rounding.
        weights = torch.randn(expected.shape, generator=torch.Generator().manual_seed(0)).to(expected)
        got = torch.autograd.grad((output * weights).sum(), [probe_leaves[n] for n in trainable], allow_unused=True)
        want = torch.autograd.grad((expected * weights).sum(), [reference[n] for n in trainable], allow_unused=True)
        problems += [f"gradient of {name}" for name, g, w in zip(trainable, got, want, strict=True)
                     if (g is None) != (w is None) or (g is not None and not close(g.reshape(w.shape), w))]
    problems += [f"buffer {name}" for name, tensor in reference.items()
                 if not tensor.requires_grad and not close(probe[name].detach(), tensor)]
    return problems


def build_forward(engine: str, template: nn.Module, device: torch.device, streams: int = 1,
                  channels_last: bool | None = None, compile: bool = False):
    """The forward engine named by ``training.engine``; ``channels_last=None``
    lets the loop engine go channels-last on CUDA (the layout of cuDNN's
    tensor-core convolution kernels)."""
    if engine == "vmap":
        if streams != 1 or channels_last or compile:
            raise ValueError("training.streams/channels_last/compile: only the 'loop' engine has them")
        return VmapForward(template)
    if engine == "loop":
        if channels_last is None:
            channels_last = device.type == "cuda"
        return LoopForward(template, device, streams=streams, channels_last=channels_last, compile=compile)
    raise ValueError(f"training.engine: expected one of {list(ENGINES)}, got {engine!r}")


def channels_last_stack(tensor: torch.Tensor) -> torch.Tensor:
    """A stacked 4-d weight (R, O, I, kh, kw) whose every slice is channels-last."""
    if tensor.dim() != 5:
        return tensor
    return tensor.permute(0, 1, 3, 4, 2).contiguous().permute(0, 1, 4, 2, 3)


class GraphedStep:
    """Run ``step`` eagerly ``warmup`` times, then capture it once and replay it.

    The warm-up calls are ordinary steps on a side stream (as CUDA graph
    capture requires); capturing records the kernels without running them,
    so the captured call is replayed at once and the sequence of updates is
    the same as calling ``step`` every time.
    """

    def __init__(self, step: Callable[[], None], warmup: int = 3):
        if warmup < 1:
            raise ValueError(f"warmup: expected at least 1 eager call before capture, got {warmup}")
        self.step = step
        self.warmup = warmup
        self.calls = 0
        self.graph: torch.cuda.CUDAGraph | None = None
        self._side = torch.cuda.Stream()

    def __call__(self) -> None:
        if self.graph is not None:
            self.graph.replay()
        elif self.calls < self.warmup:
            self._side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(self._side):
                self.step()
            torch.cuda.current_stream().wait_stream(self._side)
        else:
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                self.step()
            self.graph = graph
            graph.replay()
        self.calls += 1


def step_runner(step: Callable[[], None], cuda_graph: bool, device: torch.device) -> Callable[[], None]:
    """``step`` itself, or its CUDA-graph replay when asked for on CUDA."""
    if not cuda_graph:
        return step
    if device.type != "cuda":
        raise ValueError(f"training.cuda_graph: CUDA graphs need a CUDA device, got {device}")
    return GraphedStep(step)

