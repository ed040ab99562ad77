"""The training layer (torch): datasets, models, optimizers, perturbation
protocols, execution engines and the stacked-replica trainer.

Importing the package registers every dataset, model, optimizer and protocol
(``DATASETS``, ``MODELS``, ``OPTIMIZERS``, ``PROTOCOLS``).
"""

from . import cifar, data, models, optim, protocols, resnet  # noqa: F401  (each registers its entries)
from .data import DATASETS
from .models import MODELS
from .optim import OPTIMIZERS
from .protocols import PROTOCOLS

__all__ = ["DATASETS", "MODELS", "OPTIMIZERS", "PROTOCOLS"]
