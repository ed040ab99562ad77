"""The names a config may use for each registered kind, without importing torch.

The training layer registers the implementations (:mod:`fptopt.train`), and
its :class:`~fptopt.train.registry.Registry` refuses a name missing here, so
the config checks (:mod:`fptopt.pipeline.config`, ``fptopt check-config``,
parsing the Snakefile) can name every valid choice while loading no torch.
A new dataset, model, optimizer or protocol adds its name here and registers
itself in its module; ``tests/test_layers.py`` checks that both agree.
"""

from __future__ import annotations

NAMES: dict[str, tuple[str, ...]] = {
    "dataset": ("cifar10", "cifar100", "diabetes", "digits"),
    "model": ("fc_regression", "mlp", "resnet18_cifar"),
    "optimizer": ("adam", "sgd"),
    "protocol": ("full_reset", "partial_reset", "shrink_perturb"),
}
