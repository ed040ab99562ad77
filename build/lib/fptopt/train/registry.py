"""One registry helper for datasets, models, optimizers and protocols.

A registry maps a name (what the config says) to an object; modules add to
it with the :meth:`Registry.register` decorator, and :mod:`fptopt.train`
imports every module that registers, so the registries are complete once
the package is imported.
"""

from __future__ import annotations

from typing import Any, Callable

from ..catalog import NAMES


class Registry(dict):
    """``{name: object}`` for one kind of thing, with errors naming the config key."""

    def __init__(self, kind: str, config_key: str):
        super().__init__()
        self.kind = kind
        self.config_key = config_key

    def register(self, name: str, wrap: Callable[[Any], Any] | None = None):
        """Decorator: store the decorated object (or ``wrap(object)``) under ``name``."""

        if name not in NAMES[self.kind]:
            raise ValueError(f"{self.kind} {name!r} is not in fptopt.catalog.NAMES[{self.kind!r}] "
                             f"{list(NAMES[self.kind])}: add it there, so that configs may name it")

        def decorate(thing):
            if name in self:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self[name] = thing if wrap is None else wrap(thing)
            return thing

        return decorate

    def lookup(self, name: str):
        """The object registered under ``name``; unknown names list the known ones."""
        if name not in self:
            raise ValueError(f"{self.config_key}: unknown {self.kind} {name!r}; known: {sorted(self)}")
        return self[name]
