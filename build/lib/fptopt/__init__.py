"""fptopt: first-passage optimization of training perturbations."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fptopt")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
