"""Model architectures and their default initialization, as pure functions.

Models are ordinary ``torch.nn.Module`` objects used as *templates*: the
trainer keeps the weights of many replicas stacked along a leading axis and
calls the template through ``torch.func.functional_call`` under ``vmap``.
The initialization rule is explicit here (not PyTorch's hidden global RNG),
so that a replica's initial weights, and every fresh draw a perturbation
needs, come from that replica's own generator.  No I/O happens in this module.
"""

from __future__ import annotations

import torch
from torch import nn

from .registry import Registry

MODELS = Registry("model", "model.name")


def register_model(name: str):
    """Decorator adding a model builder to the registry under ``name``."""
    return MODELS.register(name)


def build_model(name: str, input_shape: tuple[int, ...], output_dim: int, **options) -> nn.Module:
    """Instantiate a registered architecture; unknown names list the known ones."""
    return MODELS.lookup(name)(input_shape, output_dim, **options)


def _flat_dim(input_shape: tuple[int, ...]) -> int:
    dim = 1
    for size in input_shape:
        dim *= int(size)
    return dim


@register_model("mlp")
def mlp(input_shape, output_dim, hidden=(32,)) -> nn.Module:
    """Fully connected ReLU network: input → hidden… → output (logits)."""
    layers: list[nn.Module] = [nn.Flatten()] if len(input_shape) > 1 else []
    width = _flat_dim(input_shape)
    for size in hidden:
        layers += [nn.Linear(width, int(size)), nn.ReLU()]
        width = int(size)
    layers.append(nn.Linear(width, output_dim))
    return nn.Sequential(*layers)


@register_model("fc_regression")
def fc_regression(input_shape, output_dim, hidden=(64, 64)) -> nn.Module:
    """Fully connected ReLU regressor (same body as :func:`mlp`, scalar head)."""
    return mlp(input_shape, output_dim, hidden=hidden)


def _fan_in(module: nn.Module) -> int:
    weight = module.weight
    return int(weight.shape[1] * (weight[0][0].numel() if weight.dim() > 2 else 1))


def has_fan_in(module: nn.Module) -> bool:
    """Linear and convolution layers: the layers with a uniform default init."""
    return isinstance(module, (nn.Linear, nn.modules.conv._ConvNd))


def init_bounds(template: nn.Module) -> dict[str, float]:
    """Half-width of PyTorch's default uniform init for each Linear/Conv tensor.

    ``kaiming_uniform_(a=√5)`` for weights and the bias rule both reduce to
    U(−1/√fan_in, +1/√fan_in).
    """
    bounds = {}
    for module_name, module in template.named_modules():
        if has_fan_in(module):
            bound = 1.0 / _fan_in(module) ** 0.5
            prefix = f"{module_name}." if module_name else ""
            bounds[f"{prefix}weight"] = bound
            if module.bias is not None:
                bounds[f"{prefix}bias"] = bound
    return bounds


def state_shapes(template: nn.Module) -> dict[str, tuple[torch.Size, torch.dtype]]:
    """Shapes and dtypes of all parameters and buffers, in a fixed order."""
    entries = dict(template.named_parameters())
    entries.update(dict(template.named_buffers()))
    return {name: (tensor.shape, tensor.dtype) for name, tensor in entries.items()}


def parameter_names(template: nn.Module) -> list[str]:
    return [name for name, _ in template.named_parameters()]


def draw_initial_state(
    template: nn.Module, generator: torch.Generator, device: torch.device | str = "cpu"
) -> dict[str, torch.Tensor]:
    """One replica's default initialization, drawn from ``generator`` only.

    Linear/Conv weights and biases: U(±1/√fan_in). Normalization layers:
    weight 1, bias 0, running mean 0, running variance 1. Tensors are drawn
    in the template's parameter order, so the same generator state always
    gives the same weights.
    """
    bounds = init_bounds(template)
    state = {}
    for name, (shape, dtype) in state_shapes(template).items():
        if name in bounds:
            uniform = torch.rand(shape, generator=generator, device=generator.device, dtype=torch.float32)
            state[name] = ((2.0 * uniform - 1.0) * bounds[name]).to(device=device, dtype=dtype)
        elif name.endswith("running_var") or name.endswith("weight"):
            state[name] = torch.ones(shape, dtype=dtype, device=device)
        else:
            state[name] = torch.zeros(shape, dtype=dtype, device=device)
    return state


def draw_stacked_state(
    template: nn.Module, generators: list[torch.Generator], device: torch.device | str = "cpu"
) -> dict[str, torch.Tensor]:
    """Fresh initial states of many replicas, stacked along axis 0."""
    per_replica = [draw_initial_state(template, gen, device) for gen in generators]
    return {name: torch.stack([s[name] for s in per_replica]) for name in per_replica[0]}
