"""The Examples in the docstrings of the public statistics API run as written."""

import doctest
import importlib

import pytest

STATS_MODULES = ["survival", "qss", "theory", "validation", "design", "logs", "analyze"]


@pytest.mark.parametrize("name", STATS_MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"fptopt.stats.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.failed == 0


def test_the_public_statistics_functions_have_examples_or_references():
    """Every public function of the statistics API documents a reference or an example."""
    import inspect

    missing = []
    for name in ["survival", "qss", "design"]:
        module = importlib.import_module(f"fptopt.stats.{name}")
        for function_name in module.__all__:
            function = getattr(module, function_name)
            if inspect.isfunction(function):
                doc = inspect.getdoc(function) or ""
                module_doc = inspect.getdoc(module) or ""
                if not any(key in doc + module_doc for key in ("Examples", "References", "docs/theory.md")):
                    missing.append(f"{name}.{function_name}")
    assert not missing, missing
