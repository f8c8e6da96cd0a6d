"""Hostile input and faults (issue 7): every odd recording is analyzed or fails in one named line, the run
never stops for one, the loader survives fuzzed headers, and a stopped or unwritable run stays clean."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline import batch, vad
from pipeline.archive import CallFile
from pipeline.audio import load_audio
from pipeline.config import Config, VadConfig
from pipeline.errors import AudioError, OutputError
from scripts.make_archive import make_archive

from .hostile_corpus import CALL_IDS, EXPECT, make_corpus, speech
from .test_cli import callscope
from .test_run import call_dirs, summaries


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory):
    """One nightly run over the whole corpus: (archive, out, process, run summary)."""
    base = tmp_path_factory.mktemp("hostile")
    root, out = base / "archive", base / "out"
    make_corpus(root)
    config = base / "fast.yaml"
    config.write_text("archive:\n  settle_s: 0.1\n")
    proc = callscope("run", root, "--out", out, "--config", config)
    return root, out, proc, summaries(out)[-1]


def test_the_run_survives_the_whole_corpus(corpus_run):
    _, out, proc, run = corpus_run
    assert len(EXPECT) >= 25
    assert proc.returncode == 1, proc.stderr  # some calls failed, as they must, and the run went on
    assert "Traceback" not in proc.stderr and run["status"] == "done"
    analyzed = [name for name, want in EXPECT.items() if want == "analyzed"]
    failed = [name for name, want in EXPECT.items() if isinstance(want, tuple)]
    assert (run["analyzed"], run["failed"]) == (len(analyzed), len(failed))
    assert not [p for p in out.iterdir() if p.name.endswith((".tmp", ".old"))]


@pytest.mark.parametrize("name", sorted(EXPECT))
def test_each_case_is_analyzed_or_fails_in_one_named_line(corpus_run, name):
    root, out, _, run = corpus_run
    want = EXPECT[name]
    errors = {os.path.basename(e["file"]): e for e in run["errors"]}
    if want == "not a call":
        assert name not in errors and (root / name).is_dir()
        with pytest.raises(AudioError, match="is a directory"):
            load_audio(root / name)
    elif want == "analyzed":
        assert name not in errors
        call_id = CALL_IDS.get(name, os.path.splitext(name)[0])
        doc = json.loads((out / call_id / "call.json").read_text())
        assert doc["call_id"] == call_id and doc["duration_s"] > 0
        assert all(0 <= s["start"] <= s["end"] <= doc["duration_s"] + 0.01 for s in doc["segments"])
    else:
        stage, cause = want
        error = errors[name]
        assert error["stage"] == stage
        assert "\n" not in error["cause"] and re.search(cause, error["cause"]), error["cause"]
        assert f"failed {error['file']}: {stage}:" in corpus_run[2].stdout


def test_quiet_and_broken_channels_give_sane_results(corpus_run):
    _, out, _, _ = corpus_run

    def doc(call_id):
        return json.loads((out / call_id / "call.json").read_text())

    assert doc("silence")["words"] == [] and doc("silence")["call_metrics"]["speech_s"] == 0
    assert doc("six_channels")["channels"] == 6
    assert doc("nan_inf")["codec"] == "WAV/FLOAT"
    assert {s["channel"] for s in doc("dead_channel")["speakers"]} <= {0, None}
    for rate in (8000, 11025, 22050, 44100, 48000):
        assert doc(f"rate_{rate}")["sample_rate"] == rate and doc(f"rate_{rate}")["words"]
    # the sidecar names channel 0 the agent, and its word wins over the voices'
    roles = {s["channel"]: s["role"] for s in doc("swapped")["speakers"]}
    assert roles.get(0) == "agent" and roles.get(1) == "customer"


def test_unreadable_file_is_a_named_failure(tmp_path, monkeypatch):
    path = tmp_path / "locked.wav"
    sf.write(path, speech(), 16000)
    path.chmod(0)
    if os.geteuid() == 0:  # root reads anything: make the read fail as it would for the run's user
        real_open = type(path).open

        def refuse(self, *args, **kwargs):
            if self == path:
                raise PermissionError(13, "Permission denied", str(self))
            return real_open(self, *args, **kwargs)

        monkeypatch.setattr(type(path), "open", refuse)
    with pytest.raises(AudioError, match=r"locked\.wav: permission denied"):
        load_audio(path)
    call = CallFile(path, "locked", {"channel_roles": None}, "2026-01-01T00:00:00+00:00")
    outcome = batch.analyze_one(call, Config(), tmp_path / "out", "f" * 16)
    assert (outcome.status, outcome.stage, outcome.cause) == ("failed", "decode", "permission denied")


def test_three_hour_call_decodes_and_finds_its_speech(tmp_path):
    """A 3-hour, mostly silent 8 kHz FLAC with one burst of speech: decode and VAD only (the ASR of long
    calls belongs to the long-call benchmark)."""
    rate, hours = 8000, 3
    path = tmp_path / "three_hours.flac"
    burst = speech()[:, 0]
    with sf.SoundFile(path, "w", rate, 1, subtype="PCM_16") as f:
        minute = np.zeros(60 * rate, np.float32)
        for m in range(60 * hours):
            f.write(minute)
            if m == 90:
                import soxr

                f.write(soxr.resample(burst, 16000, rate))
    audio = load_audio(path)
    assert audio.info.duration_s == pytest.approx(3 * 3600 + 4.0, abs=0.1)
    spans = vad.speech_spans(audio.samples[0], VadConfig())
    assert spans and all(s.start > 91 * 60 - 1 and s.end < 91 * 60 + 6 for s in spans)


def _header_mutants():
    sf_kwargs = [("WAV", "PCM_16"), ("WAV", "FLOAT"), ("FLAC", "PCM_16")]
    return st.tuples(st.sampled_from(sf_kwargs), st.integers(0, 63), st.binary(min_size=1, max_size=8),
                     st.integers(0, 2))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=_header_mutants())
def test_fuzzed_headers_load_or_fail_with_an_audio_error(tmp_path, case):
    (fmt, subtype), at, patch, trim = case
    path = tmp_path / f"fuzz.{fmt.lower()}"
    sf.write(path, speech()[: 4000], 16000, format=fmt, subtype=subtype)
    data = bytearray(path.read_bytes())
    data[at: at + len(patch)] = patch
    path.write_bytes(bytes(data[: len(data) - trim * 997]))
    try:
        audio = load_audio(path)
    except AudioError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)
        return
    assert audio.samples.dtype == np.float32 and np.isfinite(audio.samples).all()
    assert audio.samples.shape[0] in (1, 2) and np.abs(audio.samples).max() <= 1.0


def test_a_header_with_a_huge_sample_rate_is_an_audio_error(tmp_path):
    """Found by the fuzz test: 4000 samples at a rate of 134 MHz resampled to none at all."""
    path = tmp_path / "rate.wav"
    sf.write(path, speech()[:4000], 16000, subtype="PCM_16")
    data = bytearray(path.read_bytes())
    data[25:28] = b"\x00\x00\x08"
    path.write_bytes(bytes(data))
    with pytest.raises(AudioError, match=r"rate\.wav: no audio samples at 16000 Hz \(header says \d+ Hz\)"):
        load_audio(path)


def test_sigterm_ends_the_run_cleanly_and_a_rerun_resumes(tmp_path):
    root = tmp_path / "archive"
    expected = make_archive(root, calls=7, seconds=5.0)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "run", str(root), "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while len(call_dirs(out)) < 1:
        assert time.time() < deadline and proc.poll() is None
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM
    assert "stopped by SIGTERM" in stderr and "run again to resume" in stderr and "Traceback" not in stderr
    first = summaries(out)[-1]
    assert first["status"] == "interrupted" and first["finished_at"]
    landed = call_dirs(out)
    assert landed and set(landed) < set(expected["good"])
    assert not [p for p in out.iterdir() if p.name.endswith((".tmp", ".old"))]
    for call_id in landed:
        assert json.loads((out / call_id / "call.json").read_text())["call_id"] == call_id
    resumed = callscope("run", root, "--out", out)
    assert resumed.returncode == 1, resumed.stderr
    assert summaries(out)[-1]["analyzed"] + summaries(out)[-1]["skipped"] == len(expected["good"])
    assert call_dirs(out) == expected["good"]


@pytest.fixture
def read_only_dir(tmp_path):
    """A directory that refuses writes: a read-only tmpfs when root (permissions do not bind root)."""
    target = tmp_path / "ro"
    target.mkdir()
    if os.geteuid() != 0:
        target.chmod(0o555)
        yield target
        target.chmod(0o755)
        return
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,ro", "none", str(target)],
                      capture_output=True).returncode:
        pytest.skip("cannot mount a read-only file system here")
    try:
        yield target
    finally:
        subprocess.run(["umount", str(target)], check=True)


def test_read_only_output_is_reported_and_nothing_is_written(tmp_path, read_only_dir):
    root = tmp_path / "archive"
    root.mkdir()
    sf.write(root / "one.wav", speech()[:16000], 16000)
    with pytest.raises(OutputError, match="output directory not writable"), batch.run_lock(read_only_dir / "out"):
        pass
    proc = callscope("run", root, "--out", read_only_dir)
    assert proc.returncode == 2
    assert re.fullmatch(rf"callscope: {re.escape(str(read_only_dir))}: output directory not writable \(.+\)\n",
                        proc.stderr)
    assert not list(read_only_dir.iterdir())


def test_a_stop_signal_is_never_taken_for_a_failed_call():
    """Handlers that record a failed call and go on catch ``Exception``; the stop must pass through them."""
    from pipeline.errors import Interrupted

    assert not issubclass(Interrupted, Exception)
    with pytest.raises(Interrupted):
        try:
            raise Interrupted(signal.SIGTERM)
        except Exception:  # what batch does around a worker's result
            pytest.fail("caught as a failed call")
