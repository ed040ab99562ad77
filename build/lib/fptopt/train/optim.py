"""Optimizers for stacked replicas, with a per-replica state reset.

They reproduce ``torch.optim.SGD`` (momentum, no dampening, no Nesterov)
and ``torch.optim.Adam`` update rules element by element, so replica ``k``
of a stack follows exactly the trajectory it would follow with its own
PyTorch optimizer. ``reset(mask)`` puts the masked replicas back in the
state of a newly created optimizer, which is what shrink-and-perturb and a
full restart require ("optimizer re-created").
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .registry import Registry

OPTIMIZERS = Registry("optimizer", "training.optimizer.name")


def register_optimizer(name: str):
    """Decorator adding an optimizer class to the registry under ``name``."""
    return OPTIMIZERS.register(name)


def build_optimizer(name: str, params: list[torch.Tensor], **options) -> "StackedOptimizer":
    return OPTIMIZERS.lookup(name)(params, **options)


def _expand(mask: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return mask.view((-1,) + (1,) * (like.dim() - 1))


@dataclass
class StackedOptimizer:
    """Base: ``params`` are leaf tensors whose axis 0 is the replica axis."""

    params: list[torch.Tensor]

    def step(self, grads: list[torch.Tensor], active: torch.Tensor, sync_free: bool = False) -> None:
        """Update the ``active`` replicas. ``sync_free`` forbids reading tensors
        on the host (a step captured in a CUDA graph must not)."""
        raise NotImplementedError

    def reset(self, mask: torch.Tensor) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict:
        raise NotImplementedError

    def load_state_dict(self, state: dict) -> None:
        raise NotImplementedError


@register_optimizer("sgd")
class StackedSGD(StackedOptimizer):
    """SGD with optional momentum and L2 weight decay (PyTorch's convention)."""

    def __init__(self, params, lr: float = 0.05, momentum: float = 0.0, weight_decay: float = 0.0):
        super().__init__(params)
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        # A zero buffer gives the same first step as PyTorch's "no buffer yet":
        # buf = momentum·0 + g = g.
        self.buffers = [torch.zeros_like(p) for p in params]

    @torch.no_grad()
    def step(self, grads, active, sync_free=False):
        if not sync_free and bool(active.all()):
            return self._step_all(grads)
        for param, grad, buf in zip(self.params, grads, self.buffers, strict=True):
            keep = _expand(active, param)
            if self.weight_decay:
                grad = grad.add(param, alpha=self.weight_decay)
            if self.momentum:  # the same arithmetic as _step_all, then masked
                buf.copy_(torch.where(keep, buf.mul(self.momentum).add_(grad), buf))
                grad = buf
            param.copy_(torch.where(keep, param.add(grad, alpha=-self.lr), param))

    def _step_all(self, grads):
        """The same update in place, for the common case of no frozen replica."""
        for param, grad, buf in zip(self.params, grads, self.buffers, strict=True):
            if self.weight_decay:
                grad = grad.add(param, alpha=self.weight_decay)
            if self.momentum:
                grad = buf.mul_(self.momentum).add_(grad)
            param.add_(grad, alpha=-self.lr)

    @torch.no_grad()
    def reset(self, mask):
        for buf in self.buffers:
            buf.masked_fill_(_expand(mask, buf), 0.0)

    def state_dict(self):
        return {"buffers": [b.clone() for b in self.buffers]}

    def load_state_dict(self, state):
        for buf, saved in zip(self.buffers, state["buffers"], strict=True):
            buf.copy_(saved)


@register_optimizer("adam")
class StackedAdam(StackedOptimizer):
    """Adam with bias correction; each replica counts its own steps."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params)
        self.lr, self.eps, self.weight_decay = lr, eps, weight_decay
        self.beta1, self.beta2 = float(betas[0]), float(betas[1])
        self.first = [torch.zeros_like(p) for p in params]
        self.second = [torch.zeros_like(p) for p in params]
        self.steps = torch.zeros(params[0].shape[0], dtype=torch.float64, device=params[0].device)

    @torch.no_grad()
    def step(self, grads, active, sync_free=False):
        self.steps += active.to(self.steps.dtype)
        correction1 = 1 - self.beta1**self.steps
        correction2 = 1 - self.beta2**self.steps
        for param, grad, m, v in zip(self.params, grads, self.first, self.second, strict=True):
            keep = _expand(active, param)
            if self.weight_decay:
                grad = grad + self.weight_decay * param
            m.copy_(torch.where(keep, self.beta1 * m + (1 - self.beta1) * grad, m))
            v.copy_(torch.where(keep, self.beta2 * v + (1 - self.beta2) * grad * grad, v))
            c1 = _expand(correction1.clamp_min(1e-300), param).to(param.dtype)
            c2 = _expand(correction2.clamp_min(1e-300), param).to(param.dtype)
            update = (m / c1) / ((v / c2).sqrt() + self.eps)
            param.copy_(torch.where(keep, param - self.lr * update, param))

    @torch.no_grad()
    def reset(self, mask):
        for tensor in self.first + self.second:
            tensor.masked_fill_(_expand(mask, tensor), 0.0)
        self.steps.masked_fill_(mask, 0.0)

    def state_dict(self):
        return {
            "first": [t.clone() for t in self.first],
            "second": [t.clone() for t in self.second],
            "steps": self.steps.clone(),
        }

    def load_state_dict(self, state):
        for mine, saved in zip(self.first + self.second, state["first"] + state["second"], strict=True):
            mine.copy_(saved)
        self.steps.copy_(state["steps"])
