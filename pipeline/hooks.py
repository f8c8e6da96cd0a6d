"""Progress and timing out of the library, as pyannote.audio's pipelines report them: the library calls a
hook, the caller decides what to show (a log line, a progress bar); the library never prints."""

from __future__ import annotations

from typing import Any, Protocol


class Hook(Protocol):
    """Called as ``hook(step, artifact, completed=k, total=n)`` (the first two by position, so that a hook may
    name them as it likes: ``stage, seconds``).

    - ``runner.analyze_call``: once per stage as it ends; ``step`` the stage (``decode``, ``vad``, ``asr``,
      ...), ``artifact`` its seconds (the figure of ``timings_s``: a stage ends in several values, and its
      time is what a caller shows); ``completed`` and ``total`` None.
    - ``batch.run_archive``: ``("start", None, completed=0, total=n)`` once the n calls to analyze are
      known, then ``("call", outcome, completed=k, total=n)`` as each ends (a ``CallOutcome``).
    """

    def __call__(self, step: str, artifact: Any, /, *, completed: int | None = None, total: int | None = None,
                 ) -> None: ...
