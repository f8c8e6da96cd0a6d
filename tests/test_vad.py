import itertools

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given
from hypothesis import strategies as st

from pipeline.audio import signal
from pipeline.audio.decode import load_audio
from pipeline.audio.signal import frame_db, mask_to_spans, spans_to_mask
from pipeline.audio.vad import channels_speech, refine_edges, speech_spans
from pipeline.types import Span
from scripts.eval_calls import union
from scripts.eval_vad import noisy, scores

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
    first, second = refine_edges((Span(0.9, 2.12),), frame_db(x), search_s=0.15, **options)
    assert abs(first.start - 1.0) <= 0.01 and abs(second.end - 2.0) <= 0.01
    assert abs(first.end - 1.5) <= 0.01 and abs(second.start - 1.8) <= 0.01
    assert refine_edges((Span(0.1, 0.5),), frame_db(x), search_s=0.1, **options) == ()


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


@pytest.mark.parametrize("kind", ["white", "pink"])
@pytest.mark.parametrize("snr_db", [20.0, 10.0])
def test_speech_and_its_pauses_hold_on_a_noisy_line(config, kind, snr_db):
    """The synthetic mono call with noise 20 and 10 dB under its speech: Silero still hears the soft parts of
    speech that the level alone cannot tell from the noise, so they stay speech and its pauses stay pauses
    (cut 12 dB over the noise floor, with white noise 10 dB under it the speech lost 46 % of its time to 47
    pieces, for 13 in its timeline)."""
    ref = union((a, b) for u in truth("delivery_mono")["utterances"] for a, b in u["speech"])
    clean = load_audio(SAMPLES / "delivery_mono.wav").samples[0]
    x = noisy(clean, ref, kind, snr_db, np.random.default_rng(0))
    missed, false, pieces = scores(union((s.start, s.end) for s in speech_spans(x, config.vad)), ref)
    assert missed < (0.03 if snr_db == 20 else 0.1) and false < 0.02
    assert pieces <= (1.1 if snr_db == 20 else 1.5)


def test_spans_inside_duration(tmp_path, config):
    audio = load_audio(SAMPLES / "delivery_mono.wav")
    sf.write(tmp_path / "x.wav", audio.samples[0], 16000)
    spans = speech_spans(audio.samples[0], config.vad)
    assert spans and spans[-1].end <= audio.samples.shape[1] / 16000


def test_a_long_channel_is_cut_into_blocks_at_quiet_points_and_finds_the_same_speech(config, monkeypatch):
    """11 minutes of a real party (the billing agent, repeated): Silero in ~5-minute blocks finds what
    one pass over the whole channel finds, within 1 % of speech time and the same spans away from the cuts,
    their edges within two Silero steps (a block starts Silero afresh, and inside its span a frame needs less
    level to be speech than beyond it)."""
    agent = load_audio(SAMPLES / "billing_stereo.flac").samples[0]
    x = np.tile(agent, 13)
    blocks = signal.block_bounds(frame_db(x), x.size)
    assert len(blocks) == 3 and blocks[0][0] == 0 and blocks[-1][1] == x.size
    assert all(a[1] == b[0] for a, b in itertools.pairwise(blocks))
    cuts = [hi / 16000 for _, hi in blocks[:-1]]
    assert all(frame_db(x[c - 800:c + 800]).max() < -40 for c in (hi for _, hi in blocks[:-1]))  # quiet there
    blocked = speech_spans(x, config.vad)
    monkeypatch.setattr(signal, "BLOCK_S", 1e9)
    whole = speech_spans(x, config.vad)
    total = sum(s.duration for s in whole)
    assert abs(sum(s.duration for s in blocked) - total) <= 0.01 * total
    far = [s for s in whole if all(abs(s.start - c) > 5 and abs(s.end - c) > 5 for c in cuts)]
    assert len(far) > 0.9 * len(whole)
    assert all(any(abs(s.start - b.start) <= 0.064 and abs(s.end - b.end) <= 0.064 for b in blocked) for s in far)


def test_the_blocks_of_all_channels_run_at_once_with_the_spans_of_one_after_the_other(config):
    """Two parties of 6 minutes (two Silero blocks each) and a channel too short to hold speech."""
    agent, customer = load_audio(SAMPLES / "billing_stereo.flac").samples
    channels = [np.tile(agent, 7), np.tile(customer, 7), agent[:800]]
    assert all(len(signal.block_bounds(frame_db(x), x.size)) == 2 for x in channels[:2])
    one_by_one = [speech_spans(x, config.vad) for x in channels]
    assert channels_speech(channels, config.vad, workers=3) == one_by_one
    assert all(one_by_one[:2]) and one_by_one[2] == ()
