"""ResNet-18 with the CIFAR stem, usable as a stacked-replica template.

The architecture follows the reference recipe of the paper's experiments
(the widely used CIFAR variant of He et al.'s ResNet-18): a 3×3 stride-1
stem convolution with no max-pool, four stages of two ``BasicBlock`` s with
64, 128, 256 and 512 channels (strides 1, 2, 2, 2), 1×1 convolution +
BatchNorm shortcuts where the shape changes, global average pooling and a
linear classifier. Convolutions have no bias (BatchNorm follows each one).

How BatchNorm behaves under the trainer
----------------------------------------
The trainer (:class:`fptopt.train.training.ReplicaStack`) calls this module through
``vmap(functional_call(template, {**params, **buffers}, x))`` with *every*
parameter and buffer stacked along axis 0, replicas first. In train mode
``BatchNorm2d`` normalizes with the statistics of the current batch and
updates ``running_mean``, ``running_var`` (momentum 0.1) and
``num_batches_tracked`` in place. Because the buffers are stacked and
vmapped (in_dims=0), the in-place update of a batched buffer by a batched
statistic is legal under ``vmap``: each replica's running statistics are
written into its own slice of the stacked tensor (tested in
``tests/test_cifar.py``: the stacked buffers after a step equal those of
each replica trained alone with a plain ``nn.Module``). So no special
BatchNorm variant is needed, and :func:`torch.func.replace_all_batch_norm_modules_`
is deliberately *not* used: it removes the running statistics, which would
make evaluation use the test batch's own statistics (test accuracy would
then depend on the evaluation batch size and composition). With real
running statistics, ``eval()`` mode uses each replica's running averages,
exactly as a plain PyTorch ResNet-18 evaluated with ``model.eval()`` would.

Consequences worth knowing: the running statistics are part of the replica's
state, so shrink-and-perturb scales them too (``running_var`` becomes
``0.4·v + 0.1·1``), as in the reference recipe's "whole state" rule; they
re-adapt within the next epoch of training (momentum 0.1, 400 steps).
``num_batches_tracked`` is an integer buffer and is never perturbed; it has
no effect with a fixed momentum.
"""

from __future__ import annotations

import torch
from torch import nn

from .models import register_model


class BatchNorm2d(nn.BatchNorm2d):
    """BatchNorm that always computes in float32, also inside bf16 autocast.

    Under ``vmap`` on CUDA, autocast hands BatchNorm a bf16 input with float32
    running statistics, and the batched backward then fails ("Expected
    running_mean to have type BFloat16"). Normalizing in float32 is what
    autocast does for a plain model anyway; the next convolution casts back.
    """

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=inputs.device.type, enabled=False):
            return super().forward(inputs.to(torch.promote_types(inputs.dtype, torch.float32)))


class BasicBlock(nn.Module):
    """Two 3×3 conv-BN layers with an identity (or 1×1 conv-BN) shortcut."""

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, kernel_size=1, stride=stride, bias=False),
                BatchNorm2d(planes),
            )

    def forward(self, x):
        out = self.bn1(self.conv1(x)).relu()
        out = self.bn2(self.conv2(out))
        return (out + self.shortcut(x)).relu()


class ResNetCIFAR(nn.Module):
    """ResNet for 32×32 inputs: 3×3 stem, no max-pool, four stages, GAP, linear."""

    def __init__(self, blocks=(2, 2, 2, 2), num_classes: int = 10, in_channels: int = 3, width: int = 64):
        super().__init__()
        self.in_planes = width
        self.conv1 = nn.Conv2d(in_channels, width, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = BatchNorm2d(width)
        stages = []
        for index, n_blocks in enumerate(blocks):
            stride = 1 if index == 0 else 2
            stages.append(self._stage(width * 2**index, int(n_blocks), stride))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.linear = nn.Linear(width * 2 ** (len(blocks) - 1) * BasicBlock.expansion, num_classes)

    def _stage(self, planes: int, n_blocks: int, stride: int) -> nn.Sequential:
        layers = []
        for block_stride in [stride] + [1] * (n_blocks - 1):
            layers.append(BasicBlock(self.in_planes, planes, block_stride))
            self.in_planes = planes * BasicBlock.expansion
        return nn.Sequential(*layers)

    def forward(self, x):
        out = self.bn1(self.conv1(x)).relu()
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        out = out.mean(dim=(-2, -1))  # global average pooling (= avg_pool2d(4) on 32×32 inputs)
        return self.linear(out)


@register_model("resnet18_cifar")
def resnet18_cifar(input_shape, output_dim, width: int = 64, **unknown) -> nn.Module:
    """ResNet-18 (BasicBlock [2, 2, 2, 2]) with the CIFAR stem.

    ``input_shape`` is (channels, height, width) of one image; ``width`` is
    the stem's channel count (64 in the recipe; smaller only for tests).
    """
    if unknown:
        raise ValueError(
            f"model.options: unknown option(s) {sorted(unknown)} for resnet18_cifar; known: ['width']."
        )
    if len(input_shape) != 3:
        raise ValueError(
            f"model.name resnet18_cifar: expected image inputs of shape (C, H, W), got {tuple(input_shape)}"
        )
    if int(width) < 1:
        raise ValueError(f"model.options.width: expected a positive channel count, got {width}")
    if int(output_dim) < 2:
        raise ValueError(f"model.name resnet18_cifar: expected a classification task, got output_dim={output_dim}")
    return ResNetCIFAR((2, 2, 2, 2), num_classes=int(output_dim), in_channels=int(input_shape[0]), width=int(width))
