import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import soxr

from pipeline.audio import decode, echo, signal
from pipeline.audio.decode import load_audio
from pipeline.errors import AudioError
from pipeline.types import SAMPLE_RATE, Echo

from .conftest import EVAL, ROOT, tone


def dominant_hz(x: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum) * SAMPLE_RATE / len(x))


@pytest.mark.parametrize(
    ("fmt", "subtype", "suffix"),
    [
        ("WAV", "PCM_16", "wav"),
        ("WAV", "PCM_24", "wav"),
        ("WAV", "PCM_32", "wav"),
        ("WAV", "FLOAT", "wav"),
        ("WAV", "ULAW", "wav"),
        ("WAV", "ALAW", "wav"),
        ("FLAC", "PCM_16", "flac"),
        ("OGG", "VORBIS", "ogg"),
        ("MP3", "MPEG_LAYER_III", "mp3"),
    ],
)
@pytest.mark.parametrize("channels", [1, 2])
def test_formats_decode_to_16k_float32_channels_kept(tmp_path, fmt, subtype, suffix, channels):
    path = tmp_path / f"tone.{suffix}"
    sf.write(path, tone(440, 2.0, 8000 if subtype in ("ULAW", "ALAW") else 22050, channels),
             8000 if subtype in ("ULAW", "ALAW") else 22050, format=fmt, subtype=subtype)
    audio = load_audio(path)
    assert audio.samples.dtype == np.float32
    assert audio.samples.shape[0] == channels == audio.info.channels
    assert audio.sample_rate == SAMPLE_RATE
    assert abs(audio.info.duration_s - 2.0) < 0.1
    assert abs(dominant_hz(audio.samples[0]) - 440) < 5
    assert audio.info.codec.startswith(fmt)
    assert len(audio.info.sha256) == 64


@pytest.mark.parametrize("rate", [8000, 11025, 16000, 22050, 44100, 48000])
def test_sample_rates_resampled_once(tmp_path, rate):
    path = tmp_path / "tone.wav"
    sf.write(path, tone(1000, 1.0, rate), rate)
    audio = load_audio(path)
    assert audio.info.sample_rate == rate
    assert audio.samples.shape == (1, SAMPLE_RATE)
    assert abs(dominant_hz(audio.samples[0]) - 1000) < 3


def _write_av(path, codec: str, rate: int = 48000) -> None:
    import av

    x = tone(300, 1.5, rate, 2).T.copy()
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=rate, layout="stereo")
        frame = av.AudioFrame.from_ndarray(x, format="fltp", layout="stereo")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


@pytest.mark.parametrize(("suffix", "codec"), [("m4a", "aac"), ("opus", "libopus")])
def test_ffmpeg_containers(tmp_path, suffix, codec):
    path = tmp_path / f"call.{suffix}"
    _write_av(path, codec)
    audio = load_audio(path)
    assert audio.channels == 2
    assert abs(audio.info.duration_s - 1.5) < 0.15
    assert abs(dominant_hz(audio.samples[0]) - 300) < 5


@pytest.mark.parametrize(
    ("name", "channels", "rate"),
    [
        ("codec/dev00_8k_mulaw.wav", 1, 8000),
        ("codec/dev00_8k_alaw.wav", 1, 8000),
        ("codec/dev00_8k_gsm610.wav", 1, 8000),
        ("codec/opus_stereo_48k.opus", 2, 48000),
        ("codec/stereo_diarization_8k_mulaw.wav", 2, 8000),
        ("stereo/jfk.flac", 2, 44100),
    ],
)
def test_real_codec_files(name, channels, rate):
    audio = load_audio(EVAL / name)
    assert (audio.channels, audio.info.sample_rate) == (channels, rate)
    assert audio.info.duration_s > 4
    assert np.abs(audio.samples).max() > 0.01


def test_bad_inputs_raise_one_error_type(tmp_path):
    (tmp_path / "dir.wav").mkdir()
    (tmp_path / "text.wav").write_text("this is not audio\n" * 20)
    (tmp_path / "empty.wav").write_bytes(b"")
    good = tmp_path / "good.wav"
    sf.write(good, tone(440, 2.0), 16000)
    (tmp_path / "cut.wav").write_bytes(good.read_bytes()[:30000])
    (tmp_path / "header.wav").write_bytes(good.read_bytes()[:44])
    cases = {
        "missing.wav": "no such file",
        "dir.wav": "is a directory",
        "text.wav": "not a readable audio file",
        "empty.wav": r"empty file \(0 bytes\)",
        "cut.wav": "truncated WAV",
        "header.wav": "truncated WAV|no audio samples",
    }
    for name, cause in cases.items():
        with pytest.raises(AudioError, match=cause) as info:
            load_audio(tmp_path / name)
        message = str(info.value)
        assert name in message and "\n" not in message


def test_low_rate_and_non_finite(tmp_path):
    sf.write(tmp_path / "low.wav", tone(200, 1.0, 4000), 4000)
    with pytest.raises(AudioError, match="below 8000 Hz"):
        load_audio(tmp_path / "low.wav")
    x = tone(200, 1.0)
    x[100:200] = np.nan
    x[300] = np.inf
    sf.write(tmp_path / "nan.wav", x, 16000, subtype="FLOAT")
    assert np.isfinite(load_audio(tmp_path / "nan.wav").samples).all()


@pytest.mark.parametrize(("suffix", "rate", "channels"), [("flac", 8000, 2), ("wav", 16000, 1), ("m4a", 44100, 2),
                                                          ("wav", 48000, 6)])
def test_block_decoding_equals_decoding_whole(tmp_path, suffix, rate, channels):
    """Many decode blocks long, across libsndfile and FFmpeg, resampled or not, mixed down or not: the
    samples equal one resampling of the whole file."""
    seconds = 4 * decode.BLOCK_FRAMES / rate + 0.37
    rng = np.random.default_rng(rate)
    x = (0.3 * np.sin(2 * np.pi * 220 * np.arange(int(seconds * rate)) / rate)[:, None]
         + rng.normal(0, 0.05, (int(seconds * rate), channels))).astype(np.float32)
    path = tmp_path / f"long.{suffix}"
    if suffix == "m4a":
        import av

        with av.open(str(path), "w") as out:
            stream = out.add_stream("aac", rate=rate, layout="stereo")
            for i in range(0, len(x), 1024):
                frame = av.AudioFrame.from_ndarray(x[i:i + 1024].T.copy(), format="fltp", layout="stereo")
                frame.rate = rate
                out.mux(stream.encode(frame))
            out.mux(stream.encode(None))
        with av.open(str(path)) as container:
            x = np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=1).T
    else:
        sf.write(path, x, rate, subtype="PCM_16" if suffix == "flac" else "FLOAT")
        x = sf.read(path, dtype="float32", always_2d=True)[0]
    if channels > 2:
        x = x.mean(axis=1, keepdims=True)
    whole = np.clip(soxr.resample(x, rate, SAMPLE_RATE, quality="HQ") if rate != SAMPLE_RATE else x, -1, 1).T
    audio = load_audio(path)
    assert audio.samples.shape == whole.shape
    assert np.array_equal(audio.samples, whole) if suffix != "m4a" else np.abs(audio.samples - whole).max() < 1e-4


def test_a_recording_longer_than_its_header_says_is_decoded_whole(tmp_path):
    """A stream whose header understates its length (a recorder that never rewrote it) grows its buffer."""
    x = np.random.default_rng(0).uniform(-0.5, 0.5, (3 * decode.BLOCK_FRAMES + 5, 2)).astype(np.float32)
    blocks = iter(np.array_split(x, 4))
    stream = decode._Stream(8000, 2, "test", 100, blocks)
    out = decode._resampled(tmp_path / "x.wav", stream)
    assert np.array_equal(out, soxr.resample(x, 8000, SAMPLE_RATE, quality="HQ").T)


def test_a_long_recording_is_held_in_a_file_with_the_same_samples(tmp_path, monkeypatch):
    """Over ``IN_MEMORY_BYTES`` the decoded call lives in an unlinked temporary file, mapped read-only: the same
    samples, the channel mix and the echo canceller's copy file-backed too."""
    x = np.random.default_rng(1).uniform(-0.5, 0.5, (3 * decode.BLOCK_FRAMES + 11, 2)).astype(np.float32)
    sf.write(tmp_path / "x.wav", x, 8000, subtype="FLOAT")
    held = load_audio(tmp_path / "x.wav")
    monkeypatch.setattr(decode, "IN_MEMORY_BYTES", 0)
    spilled = load_audio(tmp_path / "x.wav")
    assert signal.is_file_backed(spilled.samples) and not signal.is_file_backed(held.samples)
    assert np.array_equal(spilled.samples, held.samples) and not spilled.samples.flags.writeable
    assert signal.is_file_backed(signal.mix(spilled.samples))
    assert np.array_equal(signal.mix(spilled.samples), held.samples.mean(axis=0))
    found = Echo(1, 0.05, -12.0, 0.3)
    cancelled = echo.cancel_echo(spilled.samples, found)
    assert signal.is_file_backed(cancelled)
    assert np.array_equal(cancelled, echo.cancel_echo(held.samples, found))
    assert signal.frame_db(spilled.samples) == pytest.approx(signal.frame_db(held.samples))


PEAK_SCRIPT = """
import resource, sys
from pipeline.audio import decode, signal
def mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
before = mb()
audio = decode.load_audio(sys.argv[1])
levels = [signal.frame_db(ch) for ch in audio.samples]
corr = signal.channel_correlation(audio.samples)
mixed = signal.frame_db(signal.mix(audio.samples))
print(audio.samples.nbytes / 2**20, mb() - before)
"""


def test_a_long_call_does_not_grow_a_workers_memory(tmp_path):
    """A 30-minute stereo call decodes to 220 MB at 16 kHz: decoded, measured per channel and mixed, it raises
    the process's peak RSS by a small part of that (a block at a time, and the frame levels)."""
    rate, minutes = 8000, 30
    with sf.SoundFile(tmp_path / "long.wav", "w", rate, 2, subtype="PCM_16") as out:
        rng = np.random.default_rng(0)
        for _ in range(minutes):
            out.write(rng.uniform(-0.3, 0.3, (60 * rate, 2)).astype(np.float32))
    proc = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(tmp_path / "long.wav")], capture_output=True,
                          text=True, check=True, cwd=ROOT)
    decoded_mb, grown_mb = map(float, proc.stdout.split())
    assert decoded_mb > 200
    assert grown_mb < 60, proc.stdout


FREED_SCRIPT = """
import sys
import numpy as np
from pipeline.audio import signal
if sys.argv[1] == "on":
    signal.map_large_blocks()
def mb():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20
first = np.ones(24 << 17)  # 24 MB, freed: by default the threshold rises to its size...
del first
before = mb()
block = np.ones(20 << 17)  # ...and this 20 MB block comes from the heap,
after = np.ones(16)  # below a small one that stays,
del block  # so freeing it gives nothing back
print(mb() - before)
"""


def test_large_blocks_go_back_to_the_system_when_freed():
    """``signal.map_large_blocks``: a freed 20 MB array leaves nothing resident; by default it stays (glibc)."""
    held = {}
    for mode in ("on", "off"):
        proc = subprocess.run([sys.executable, "-c", FREED_SCRIPT, mode], capture_output=True, text=True, check=True,
                              cwd=ROOT)
        held[mode] = float(proc.stdout)
    assert held["on"] < 2.0 and held["off"] > 15.0, held


def test_a_full_temporary_directory_fails_the_call_with_its_cause(tmp_path, monkeypatch):
    import errno
    import tempfile

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    sf.write(tmp_path / "x.wav", tone(440, 1.0, 8000, 2), 8000)
    monkeypatch.setattr(decode, "IN_MEMORY_BYTES", 0)
    monkeypatch.setattr(tempfile, "TemporaryFile", full)
    with pytest.raises(AudioError, match=r"x\.wav: cannot hold the decoded audio in a temporary file: .*No space left"):
        load_audio(tmp_path / "x.wav")
