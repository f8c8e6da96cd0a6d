import json
import logging
import re
import subprocess
import sys

import pytest
import soundfile as sf

from pipeline.cli import _Progress
from pipeline.nightly.engine import CallOutcome

from .conftest import SAMPLES, tone


def callscope(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd)


def test_analyze_writes_the_call_directory_and_logs_each_stage(tmp_path):
    proc = callscope("-v", "analyze", SAMPLES / "billing_8k_mulaw.wav", "--out", tmp_path,
                     "--diarization", "embedding")
    assert proc.returncode == 0, proc.stderr
    assert re.findall(r"billing_8k_mulaw\.wav: (\w+) done in \d+\.\d\d s", proc.stderr) == [
        "decode", "echo", "vad", "method", "asr", "diarize", "align", "dynamics", "prosody", "acoustics", "cues",
        "score"]
    doc = json.loads((tmp_path / "billing_8k_mulaw" / "call.json").read_text())
    assert doc["codec"] == "WAV/ULAW" and doc["sample_rate"] == 8000
    assert doc["diarization"]["method"] == "embedding"
    assert doc["diarization"]["num_speakers"] == 2


@pytest.mark.parametrize("case", ["dir", "text", "empty", "truncated"])
def test_bad_input_fails_in_one_line(tmp_path, case):
    src = tmp_path / "src"
    src.mkdir()
    path = src / f"{case}.wav"
    if case == "dir":
        path.mkdir()
    elif case == "text":
        path.write_text("not audio at all\n" * 50)
    elif case == "empty":
        path.write_bytes(b"")
    else:
        sf.write(path, tone(300, 3.0), 16000)
        path.write_bytes(path.read_bytes()[:40000])
    out = tmp_path / "out"
    proc = callscope("analyze", path, "--out", out)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "Traceback" not in proc.stderr
    assert not out.exists() or not any(out.iterdir())


def test_config_errors_exit_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("vad:\n  treshold: 0.3\n")
    proc = callscope("analyze", SAMPLES / "delivery_mono.wav", "--out", tmp_path,
                     "--config", bad)
    assert proc.returncode == 2
    assert "unknown key 'treshold' in vad (valid: threshold" in proc.stderr


def test_unwritable_output_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = callscope("analyze", SAMPLES / "delivery_mono.wav", "--out", blocker / "sub")
    assert proc.returncode == 1
    assert len(proc.stderr.strip().splitlines()) == 1 and "stage write failed" in proc.stderr


def test_a_call_id_that_is_no_directory_name_is_refused(tmp_path):
    proc = callscope("analyze", SAMPLES / "delivery_mono.wav", "--out", tmp_path / "out", "--call-id", "../escape")
    assert proc.returncode == 2 and proc.stderr == (
        "callscope: metadata error: --call-id: call_id '../escape' must be letters, digits, '.', '_' or '-', "
        "starting with a letter or digit\n")
    assert not (tmp_path / "escape").exists() and not (tmp_path / "out").exists()


def test_the_run_progress_hook_counts_calls_hours_and_failures(caplog):
    progress = _Progress()
    progress("start", None, completed=0, total=2)
    with caplog.at_level(logging.INFO, logger="callscope"):
        progress("call", CallOutcome("a", "/x/a.wav", "analyzed", audio_s=1800.0, seconds=2.0), completed=1, total=2)
        progress("call", CallOutcome("b", "/x/b.wav", "failed", stage="decode", cause="empty"), completed=2, total=2)
    assert (progress.bar.pos, progress.hours, progress.failed) == (2, 0.5, 1)
    assert [r.getMessage() for r in caplog.records] == ["/x/a.wav: analyzed in 2.0 s", "/x/b.wav: failed in 0.0 s"]


def test_a_sidecar_gives_the_call_its_own_vocabulary(tmp_path):
    audio = tmp_path / "billing.flac"
    audio.write_bytes((SAMPLES / "billing_stereo.flac").read_bytes())
    (tmp_path / "billing.flac.json").write_text('{"hotwords": "Northwind", "initial_prompt": "Northwind support."}')
    config = tmp_path / "c.yaml"
    config.write_text("asr:\n  hotwords: Contoso\n")
    proc = callscope("analyze", audio, "--out", tmp_path / "out", "--config", config)
    assert proc.returncode == 0, proc.stderr
    asr = json.loads((tmp_path / "out" / "billing" / "call.json").read_text())["asr"]
    assert (asr["hotwords"], asr["initial_prompt"]) == ("Northwind", "Northwind support.")


def test_redaction_masks_numbers_and_addresses_in_every_stored_output(tmp_path):
    """It was: only the CSV excerpt of `export --redact` was masked; call.json, the transcript, the catalog
    and the report page kept the card number. Now the words are masked before any stage sees them, so
    call.json and the transcript hold none (the catalog and the pages are made from call.json)."""
    import numpy as np

    from scripts.make_samples import SR, speak

    agent = speak("Thank you for calling. Can I have your card number and your email, please?", ("en-us", 150, 50))
    customer = speak("Sure, my card number is four five three two, seven seven one eight, three nine zero six, two two "
                     "four one. You can write to me at john smith at gmail dot com.", ("en-gb+m3", 130, 35))
    call = np.zeros((2, agent.size + customer.size + 3 * SR), np.float32)
    call[0, SR // 2:SR // 2 + agent.size] = agent
    start = SR + agent.size
    call[1, start:start + customer.size] = customer
    sf.write(tmp_path / "card.wav", call.T, SR)
    (tmp_path / "redact.yaml").write_text("privacy:\n  redact: true\n")
    texts = {}
    for name, extra in (("plain", []), ("masked", ["--config", tmp_path / "redact.yaml"])):
        proc = callscope("analyze", tmp_path / "card.wav", "--out", tmp_path / name, *extra)
        assert proc.returncode == 0, proc.stderr
        doc = json.loads((tmp_path / name / "card" / "call.json").read_text())
        said = [t["text"] for t in doc["turns"]] + [w["text"] for w in doc["words"]]
        texts[name] = ("\n".join(said) + (tmp_path / name / "card" / "card.txt").read_text(), doc["asr"]["redacted"])
    plain, masked = texts["plain"][0], texts["masked"][0]
    # tiny.en writes the card in digits or in words ("four, five, three...") by the voice's build: either is the card
    digit = r"(?:\d|\b(?:zero|oh|one|two|three|four|five|six|seven|eight|nine)\b)"
    assert re.search(rf"({digit}[\s,.-]*){{12}}", plain, re.IGNORECASE) and texts["plain"][1] is False
    assert not re.search(rf"({digit}[\s,.-]*){{6}}", masked, re.IGNORECASE) and texts["masked"][1] is True
    assert re.search(r"(#[\s,.-]*){12}", masked)
    assert "gmail" in plain.lower() and "gmail" not in masked.lower() and "[email]" in masked
