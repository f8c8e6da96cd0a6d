import itertools

import numpy as np
import soundfile as sf
from hypothesis import given
from hypothesis import strategies as st

from pipeline.audio import load_audio
from pipeline.types import Span
from pipeline.vad import mask_to_spans, refine_edges, spans_to_mask, speech_spans

from .conftest import SAMPLES, truth


@given(st.lists(st.booleans(), max_size=300))
def test_mask_span_round_trip(bits):
    mask = np.array(bits, bool)
    assert np.array_equal(spans_to_mask(mask_to_spans(mask, 0.01), len(mask), 0.01), mask)


def test_refine_edges_finds_burst_edges_and_pauses():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1e-4, 16000 * 3).astype(np.float32)
    x[16000:32000] += rng.normal(0, 0.1, 16000).astype(np.float32)  # burst 1.0-2.0 s
    x[24000:28800] = rng.normal(0, 1e-4, 4800)  # a 0.3 s pause inside the burst
    options = {"floor_margin_db": 12, "peak_drop_db": 40, "min_gap_s": 0.2}
    first, second = refine_edges((Span(0.9, 2.12),), x, search_s=0.15, **options)
    assert abs(first.start - 1.0) <= 0.01 and abs(second.end - 2.0) <= 0.01
    assert abs(first.end - 1.5) <= 0.01 and abs(second.start - 1.8) <= 0.01
    assert refine_edges((Span(0.1, 0.5),), x, search_s=0.1, **options) == ()


def test_silence_has_no_speech(tmp_path, config):
    assert speech_spans(np.zeros(16000 * 5, np.float32), config.vad) == ()
    assert speech_spans(np.zeros(100, np.float32), config.vad) == ()


def test_speech_found_on_each_channel_of_the_stereo_sample(config):
    audio = load_audio(SAMPLES / "billing_stereo.flac")
    ref = truth("billing_stereo")["utterances"]
    for ch, who in enumerate(("agent", "customer")):
        spans = speech_spans(audio.samples[ch], config.vad)
        talk = sum(s.duration for s in spans)
        true = sum(b - a for u in ref if u["speaker"] == who for a, b in u["speech"])
        assert abs(talk - true) / true < 0.05
        assert all(a.end <= b.start for a, b in itertools.pairwise(spans))


def test_spans_inside_duration(tmp_path, config):
    audio = load_audio(SAMPLES / "delivery_mono.wav")
    sf.write(tmp_path / "x.wav", audio.samples[0], 16000)
    spans = speech_spans(audio.samples[0], config.vad)
    assert spans and spans[-1].end <= audio.samples.shape[1] / 16000
