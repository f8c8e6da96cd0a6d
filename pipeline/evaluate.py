"""Scoring against references: DER with pyannote.metrics and WER with jiwer."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from pipeline.types import SpeakerSegment


def _annotation(segments: Iterable[tuple[str, float, float]], uri: str):
    from pyannote.core import Annotation, Segment

    ann = Annotation(uri=uri)
    for i, (speaker, start, end) in enumerate(segments):
        if end > start:
            ann[Segment(start, end), i] = speaker
    return ann


def read_rttm(path: str | Path, uri: str | None = None) -> list[tuple[str, float, float]]:
    """(speaker, start, end) of the SPEAKER lines of an RTTM file, for one recording or all."""
    rows = []
    for line in Path(path).read_text().splitlines():
        f = line.split()
        if f and f[0] == "SPEAKER" and (uri is None or f[1] == uri):
            rows.append((f[7], float(f[3]), float(f[3]) + float(f[4])))
    return rows


def read_uem(path: str | Path, uri: str) -> tuple[float, float] | None:
    """The scored region of one recording in a UEM file."""
    for line in Path(path).read_text().splitlines():
        f = line.split()
        if f and f[0] == uri:
            return float(f[2]), float(f[3])
    return None


def der(reference: Iterable[tuple[str, float, float]], hypothesis: Iterable[SpeakerSegment],
        collar: float = 0.0, uem: tuple[float, float] | None = None) -> float:
    """Diarization error rate, overlap scored; ``collar`` as pyannote.metrics defines it."""
    from pyannote.core import Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate

    ref = _annotation(reference, "call")
    hyp = _annotation(((s.speaker, s.start, s.end) for s in hypothesis), "call")
    metric = DiarizationErrorRate(collar=collar, skip_overlap=False)
    kwargs = {"uem": Timeline([Segment(*uem)])} if uem else {}
    return float(metric(ref, hyp, **kwargs))


def normalize_text(text: str) -> str:
    """Lower case, digits spelled as heard are left alone, punctuation removed."""
    text = text.lower().replace("-", " ")
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9' ]", " ", text)).strip()


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate after ``normalize_text``."""
    import jiwer

    return float(jiwer.wer(normalize_text(reference), normalize_text(hypothesis) or "<empty>"))
