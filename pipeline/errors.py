"""One error hierarchy: callers catch ``CallscopeError`` once."""

from __future__ import annotations

import signal
from pathlib import Path


class CallscopeError(Exception):
    """Base of every error callscope raises on purpose; its message is one line."""


class AudioError(CallscopeError):
    """A recording cannot be read: missing, empty, truncated or not audio."""

    def __init__(self, path: str | Path, cause: str):
        self.path = str(path)
        self.cause = cause
        super().__init__(f"{self.path}: {cause}")

    def __reduce__(self):  # pickled by its arguments, so that it crosses process boundaries whole
        return type(self), (self.path, self.cause)


class ConfigError(CallscopeError):
    """A configuration file or option is invalid."""


class ModelError(CallscopeError):
    """A model cannot be found or loaded; the message says how to fix it."""


class StageError(CallscopeError):
    """A pipeline stage failed on one call."""

    def __init__(self, call_id: str, stage: str, cause: str):
        self.call_id = call_id
        self.stage = stage
        self.cause = cause
        super().__init__(f"{call_id}: stage {stage} failed: {cause}")

    def __reduce__(self):
        return type(self), (self.call_id, self.stage, self.cause)


class MetadataError(CallscopeError):
    """A call's sidecar or manifest row is invalid; the message names the file and the field."""


class BusyError(CallscopeError):
    """Another run holds the output directory."""


class OutputError(CallscopeError):
    """The output directory refuses writes: read-only, full or not permitted."""


class EngineError(CallscopeError):
    """The engine cannot run calls (a Ray cluster out of reach, or left with no worker): the run stops."""


class Interrupted(BaseException):
    """A signal stopped the run; ``signum`` is the signal's number.

    Like ``KeyboardInterrupt`` it is no ``Exception``: no handler that records a failed call and goes
    on may catch it, wherever in a call the signal lands.
    """

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(f"stopped by {signal.Signals(signum).name}")

    def __reduce__(self):
        return type(self), (self.signum,)
