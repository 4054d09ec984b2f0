"""Name -> lazily loaded object registries for passes and backends.

Built-ins and plugins come through the same entry-point groups
(``ml2sc.passes``, ``ml2sc.backends``); ``register`` adds one in-process (for
a plugin defined in a script or a test). A name claimed twice by different
objects is an error, never a silent override.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from ml2sc.ir.errors import Ml2scError

T = TypeVar("T")

PASS_GROUP = "ml2sc.passes"
BACKEND_GROUP = "ml2sc.backends"


class RegistryError(Ml2scError):
    pass


class Registry(Generic[T]):
    def __init__(self, group: str, kind: str) -> None:
        self.group = group
        self.kind = kind
        self._loaders: dict[str, tuple[str, Callable[[], T]]] | None = None

    def _discover(self) -> dict[str, tuple[str, Callable[[], T]]]:
        if self._loaders is None:
            self._loaders = {}
            for ep in entry_points(group=self.group):
                self._add(ep.name, ep.value, ep.load)
        return self._loaders

    def _add(self, name: str, origin: str, loader: Callable[[], T]) -> None:
        known = self._loaders if self._loaders is not None else self._discover()
        if name in known and known[name][0] != origin:
            raise RegistryError(f"{self.kind} '{name}' is registered twice: by {known[name][0]} and by {origin}")
        known[name] = (origin, loader)

    def register(self, name: str, obj: T) -> None:
        origin = f"{getattr(obj, '__module__', '?')}:{getattr(obj, '__qualname__', repr(obj))}"
        self._add(name, origin, lambda: obj)

    def unregister(self, name: str) -> None:
        self._discover().pop(name, None)

    def get(self, name: str) -> T:
        loaders = self._discover()
        if name not in loaders:
            raise RegistryError(f"unknown {self.kind} '{name}'; available: {', '.join(sorted(loaders)) or 'none'}")
        try:
            return loaders[name][1]()
        except ImportError as e:
            raise RegistryError(f"{self.kind} '{name}' failed to load ({loaders[name][0]}): {e}") from None

    def names(self) -> list[str]:
        return sorted(self._discover())


passes: Registry = Registry(PASS_GROUP, "pass")
backends: Registry = Registry(BACKEND_GROUP, "backend")
