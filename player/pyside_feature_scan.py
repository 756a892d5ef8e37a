"""PySide6's question to every imported module, answered from the module's file instead of its tokenized source.

Why: once PySide6 is imported, its ``__feature__`` support (``shibokensupport.feature``, PYSIDE-2029) asks of
each module imported afterwards whether its source mentions ``PySide6``, through ``inspect.getsource``: linecache,
tokenize, a decode and a split into lines, about a quarter of a millisecond a module. A window launch imports ~140
modules after Qt before its first frame (44 ms of the launch, measured on the 2-core bench machine) and the side
panel's pyqtgraph and numpy ~260 more (61 ms, before the panel shows). Reading the file's bytes answers the same
question: ``PySide6`` is ASCII, and a Python source is in an ASCII-compatible encoding (PEP 263), so the bytes
hold it exactly when the decoded text does. A module with no ``.py`` file of its own (built in, frozen, bytecode
only) gets the answer PySide6's own would reach: no for one built in or compiled, and PySide6's own for the rest.

The answer only matters to a module that selects a ``__feature__`` (``snake_case``, ``true_property``); this app
selects none, but the answers stay PySide6's all the same.
"""

from __future__ import annotations

import importlib.machinery
import sys
from collections.abc import Callable
from types import ModuleType

_MODULE = "shibokensupport.feature"
_QUESTION = "_mod_uses_pyside"
_EXTENSIONS = tuple(importlib.machinery.EXTENSION_SUFFIXES)


def answer_from_files() -> bool:
    """Load PySide6 and put the file-reading answer in place; False where this PySide6 asks no such question."""
    import PySide6  # noqa: F401  (loads shiboken and its feature support: the first thing any Qt import does)

    feature = sys.modules.get(_MODULE)
    asked: Callable[[ModuleType], bool] | None = getattr(feature, _QUESTION, None)
    if feature is None or asked is None:
        return False
    if getattr(asked, "reads_files", False):
        return True

    def uses_pyside(module: ModuleType) -> bool:
        path = getattr(module, "__file__", None)
        if not path or not isinstance(path, str) or path.endswith(_EXTENSIONS):
            return False  # what inspect.getsource's TypeError or OSError made of it: a built-in or compiled module
        if not path.endswith(".py"):
            return asked(module)
        try:
            with open(path, "rb") as source:
                return b"PySide6" in source.read()
        except OSError:
            return asked(module)

    uses_pyside.reads_files = True  # type: ignore[attr-defined]
    setattr(feature, _QUESTION, uses_pyside)
    return True
