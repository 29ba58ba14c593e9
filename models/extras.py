"""Optional parts of microlift come from extras (`pip install 'microlift[dask]'`); a missing one is named."""

from __future__ import annotations

import importlib
from types import ModuleType


class MissingExtra(ImportError):
    """A module of an optional extra is not installed; the message says which extra brings it."""


def need(extra: str, module: str) -> ModuleType:
    """Import `module`, which the `extra` extra installs, or raise MissingExtra naming the extra."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is None or module.split(".")[0] != exc.name.split(".")[0]:
            raise  # the module is there but something it imports is not: not an extra's doing
        raise MissingExtra(f"{module} is not installed: it comes with microlift's '{extra}' extra "
                           f"(pip install 'microlift[{extra}]')") from None
