"""A package's names imported on first use (PEP 562), so importing the package costs only what is used.

The player's launch imports ``proxy.api`` for a handful of names; importing every part behind it eagerly put the
emulator (its server, FilBeam and Curio rules, its command line) in front of every first frame, though only the
demo runs it. A package lists which module holds each name; the first ``from package import Name`` imports that
module and keeps the name, so later look-ups are plain attribute reads.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(
    namespace: dict[str, Any], homes: dict[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` for a package whose globals are ``namespace``: ``homes`` maps each
    exported name to the module that defines it."""
    package = namespace["__name__"]

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *homes})

    return __getattr__, __dir__
