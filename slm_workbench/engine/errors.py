"""Errors the user sees.

A ``WorkbenchError`` carries one line that names the thing and where it is; the CLI prints
it without a traceback and exits non-zero, a job writes it as its ``error`` event, and the
TUI shows it in a notification. Anything else reaching the top is a bug and keeps its
traceback (in ``worker.log`` for jobs).
"""

from __future__ import annotations


class WorkbenchError(Exception):
    """A failure with a message written for the user, plus an optional hint."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class ModelNotFoundError(WorkbenchError):
    """A model name, path or hub id that resolves to nothing usable."""


class ModelFormatError(WorkbenchError):
    """A file that is not what it claims to be (truncated GGUF, not a model folder...)."""


class RunNotFoundError(WorkbenchError):
    """No run matches an id or id prefix."""


class CorruptRunFileError(WorkbenchError):
    """A run-directory file that cannot be parsed (status.json, recipe.yaml...)."""


class RecipeError(WorkbenchError):
    """A recipe that fails validation; the message names the file and the field."""


class StorageError(WorkbenchError):
    """The workbench home or a run directory cannot be written (read-only, disk full)."""


class Cancelled(Exception):
    """Raised inside a job when the user asked it to stop; not an error."""
