"""The `microlift` command."""

from microlift.training.cli import main

__all__ = ["main"]
