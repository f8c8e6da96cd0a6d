"""The pyannote.audio 4 backend, on a pipeline directory built here with random weights (no hub).

The directory has the layout of pyannote/speaker-diarization-community-1 (config.yaml naming
``$model/segmentation``, ``$model/embedding`` and ``$model/plda``; VBx clustering), with a small
powerset PyanNet, an x-vector embedding and an identity-like PLDA. Random models give junk
speakers, so the tests check structure and invariants only.
"""

import json
import subprocess
import sys

import numpy as np
import pytest
import yaml

from pipeline.audio.decode import load_audio
from pipeline.config import DiarizationConfig, config_from_dict
from pipeline.diarization import pyannote as pyannote_diarization
from pipeline.errors import ModelError
from pipeline.models import pyannote as pyannote_models
from pipeline.outputs import store
from pipeline.runner import analyze_call
from pipeline.types import Diarization

from .conftest import PYANNOTE_SAMPLE
from .test_pipeline import check_invariants

SAMPLE = PYANNOTE_SAMPLE / "sample.wav"


@pytest.fixture(autouse=True)
def offline_hub(monkeypatch):
    """No test here may reach the Hugging Face hub, even by mistake."""
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


def save_checkpoint(model, specifications, folder):
    """Write ``folder/pytorch_model.bin`` in the format ``Model.from_pretrained(folder)`` reads."""
    import lightning
    import torch

    model.specifications = specifications
    model.build()  # task-dependent layers (PyanNet's classifier)
    checkpoint = {"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams),
                  "pytorch-lightning_version": lightning.__version__}
    model.on_save_checkpoint(checkpoint)  # architecture, specifications, pyannote.audio version
    folder.mkdir(parents=True)
    torch.save(checkpoint, folder / "pytorch_model.bin")


@pytest.fixture(scope="module")
def pipeline_dir(tmp_path_factory):
    """A community-1-shaped pipeline directory with randomly initialised models."""
    pyannote_models.import_pyannote()  # telemetry off, torchcodec warning silenced
    import torch
    from pyannote.audio import __version__
    from pyannote.audio.core.task import Problem, Resolution, Specifications
    from pyannote.audio.models.embedding import XVectorMFCC
    from pyannote.audio.models.segmentation import PyanNet

    root = tmp_path_factory.mktemp("pyannote-pipeline")
    torch.manual_seed(0)
    segmentation = PyanNet(lstm={"hidden_size": 32, "num_layers": 1},
                           linear={"hidden_size": 32, "num_layers": 1})
    save_checkpoint(segmentation, Specifications(
        problem=Problem.MONO_LABEL_CLASSIFICATION, resolution=Resolution.FRAME, duration=10.0,
        classes=["speaker#1", "speaker#2", "speaker#3"], powerset_max_classes=2,
        permutation_invariant=True), root / "segmentation")
    embedding = XVectorMFCC(mfcc={"melkwargs": {"n_mels": 40}}, dimension=64)
    save_checkpoint(embedding, Specifications(
        problem=Problem.REPRESENTATION, resolution=Resolution.CHUNK, duration=10.0),
        root / "embedding")

    # PLDA for VBx: x-vector transform (64 -> 16) and a PLDA of decreasing between-class variance
    rng = np.random.default_rng(0)
    (root / "plda").mkdir()
    np.savez(root / "plda" / "xvec_transform.npz", mean1=np.zeros(64), mean2=np.zeros(16),
             lda=rng.standard_normal((64, 16)) / 8)
    np.savez(root / "plda" / "plda.npz", mu=np.zeros(16), tr=np.eye(16), psi=np.linspace(2.0, 0.5, 16))

    config = {
        "version": __version__,
        "pipeline": {"name": "pyannote.audio.pipelines.SpeakerDiarization", "params": {
            "segmentation": "$model/segmentation", "embedding": "$model/embedding",
            "plda": "$model/plda", "clustering": "VBxClustering",
            "embedding_exclude_overlap": True, "segmentation_step": 0.5,  # 5 s hop: fast
            "segmentation_batch_size": 32, "embedding_batch_size": 32}},
        "params": {"clustering": {"threshold": 0.6, "Fa": 0.07, "Fb": 0.8},
                   "segmentation": {"min_duration_off": 0.0}},
    }
    (root / "config.yaml").write_text(yaml.safe_dump(config))
    return root


def pyannote_config(pipeline: str, **changes) -> DiarizationConfig:
    return DiarizationConfig(method="pyannote", pyannote_pipeline=str(pipeline), **changes)


def test_backend_on_the_telephone_sample(pipeline_dir):
    rec = load_audio(SAMPLE)
    config = pyannote_config(pipeline_dir)
    diar = pyannote_diarization.diarize_pyannote(rec.samples, config)
    assert diar.method == "pyannote"
    assert diar.segments
    assert all(0 <= s.start < s.end <= rec.info.duration_s for s in diar.segments)
    assert list(diar.segments) == sorted(diar.segments, key=lambda s: (s.start, s.end))
    assert set(diar.speakers) == {f"spk{k}" for k in range(len(diar.speakers))}
    assert any("overlapped speech" in note for note in diar.notes)
    assert pyannote_models.pipeline_for(config) is pyannote_models.load_pipeline(str(pipeline_dir))


def test_analyze_call_with_pyannote_end_to_end(pipeline_dir, tmp_path):
    config = config_from_dict({"diarization": {"method": "pyannote",
                                               "pyannote_pipeline": str(pipeline_dir)}})
    result = analyze_call(SAMPLE, config)
    check_invariants(result)
    assert result.diarization.method == "pyannote"
    assert result.alignment.words
    doc = json.loads((store.write_call(result, tmp_path) / "call.json").read_text())  # validated
    speakers = [s["id"] for s in doc["speakers"]]
    assert speakers == [f"S{i + 1}" for i in range(len(speakers))]
    assert doc["diarization"]["method"] == "pyannote"
    assert doc["diarization"]["num_speakers"] == len(speakers)
    assert all(w["speaker"] in speakers for w in doc["words"])
    assert all(s["channel"] is None for s in doc["speakers"])


class FakePipeline:
    """Records what the backend passes to a pyannote pipeline; answers with fixed annotations."""

    def __init__(self, legacy=False):
        self.legacy = legacy
        self.calls = []

    def __call__(self, file, **kwargs):
        from pyannote.core import Annotation, Segment

        self.calls.append((file, kwargs))
        overlapping, exclusive = Annotation(), Annotation()
        for start, end, label in [(0.5, 2.0, "SPEAKER_01"), (1.5, 3.0, "SPEAKER_00"), (2.5, 9.0, "SPEAKER_01")]:
            overlapping[Segment(start, end)] = label
        for start, end, label in [(0.5, 1.5, "SPEAKER_01"), (1.5, 2.5, "SPEAKER_00"), (2.5, 9.0, "SPEAKER_01")]:
            exclusive[Segment(start, end)] = label
        if self.legacy:
            return overlapping
        from pyannote.audio.pipelines.speaker_diarization import DiarizeOutput

        return DiarizeOutput(overlapping, exclusive)


def test_backend_mixes_channels_passes_speaker_counts_and_keeps_overlaps():
    pyannote_models.import_pyannote()
    import torch

    rng = np.random.default_rng(0)
    samples = rng.uniform(-0.5, 0.5, (2, 16000 * 5)).astype(np.float32)  # 5 s stereo
    fake = FakePipeline()
    diar = pyannote_diarization.diarize_pyannote(samples, pyannote_config("unused", num_speakers=2), fake)
    file, kwargs = fake.calls[0]
    assert kwargs == {"num_speakers": 2}
    assert file["sample_rate"] == 16000 and file["waveform"].dtype == torch.float32
    assert file["waveform"].shape == (1, 16000 * 5)
    np.testing.assert_allclose(file["waveform"][0].numpy(), samples.mean(axis=0))
    assert [(s.speaker, s.start, s.end) for s in diar.segments] == [
        ("spk1", 0.5, 2.0), ("spk0", 1.5, 3.0), ("spk1", 2.5, 5.0)]  # clipped to the 5 s call
    assert diar.notes == ("pyannote: 1.00 s of overlapped speech "
                          "(overlap-aware talk time minus that of the exclusive timeline)",)

    pyannote_diarization.diarize_pyannote(samples[:1], pyannote_config("unused", min_speakers=2), fake)
    assert fake.calls[1][1] == {"min_speakers": 2, "max_speakers": 6}
    legacy = pyannote_diarization.diarize_pyannote(samples[:1], pyannote_config("unused"), FakePipeline(True))
    assert len(legacy.segments) == 3 and legacy.notes == ()


def test_too_few_speech_chunks_for_the_speaker_count_falls_back_to_estimating_it():
    class KMeansTooFew(FakePipeline):
        def __call__(self, file, **kwargs):
            if "num_speakers" in kwargs:
                self.calls.append((file, kwargs))
                raise ValueError("n_samples=2 should be >= n_clusters=3.")
            return super().__call__(file, **kwargs)

    fake = KMeansTooFew()
    samples = np.full((1, 16000 * 9), 0.1, np.float32)
    diar = pyannote_diarization.diarize_pyannote(samples, pyannote_config("unused", num_speakers=3), fake)
    assert [kwargs for _, kwargs in fake.calls] == [{"num_speakers": 3}, {"min_speakers": 1, "max_speakers": 3}]
    assert len(diar.segments) == 3
    assert diar.notes[0] == "pyannote: too little speech for {'num_speakers': 3}; speaker count estimated freely"


def test_too_short_audio_needs_no_pipeline():
    diar = pyannote_diarization.diarize_pyannote(np.zeros((1, 100), np.float32),
                                             pyannote_config("/no/such/pipeline"))
    assert diar == Diarization("pyannote", ())


def bad_pipeline(kind: str, tmp):
    """A ``pyannote_pipeline`` value that cannot load."""
    if kind == "missing-dir":
        return tmp / "missing"
    if kind == "file":
        (tmp / "config.yaml").write_text("x: 1\n")
        return tmp / "config.yaml"
    if kind == "damaged":
        (tmp / "config.yaml").write_text("pipeline: {name: no.such.Pipeline}\n")
        return tmp
    if kind == "hub-offline":
        return "nobody/no-such-pipeline"
    return tmp  # no-config: an empty directory


@pytest.mark.parametrize(
    ("kind", "match"),
    [
        ("missing-dir", r"missing: no such directory; point diarization.pyannote_pipeline at a directory"),
        ("no-config", r"no config.yaml; point diarization.pyannote_pipeline at a pipeline directory"),
        ("file", r"config.yaml: not a directory; point diarization.pyannote_pipeline at"),
        ("damaged", r"cannot load \(.+\); the files in .+ are damaged"),
        ("hub-offline", r"nobody/no-such-pipeline: cannot load \(LocalEntryNotFoundError\); the hub is "
                        r"unreachable .+ set diarization.pyannote_pipeline to a local directory"),
    ],
)
def test_load_errors_say_how_to_fix_them(tmp_path, kind, match):
    with pytest.raises(ModelError, match=match) as info:
        pyannote_models.load_pipeline(str(bad_pipeline(kind, tmp_path)))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("token", [None, "hf_example"])
def test_hub_token_comes_from_hf_token_only_when_set(monkeypatch, token):
    Pipeline = pyannote_models.import_pyannote()
    seen = {}

    def from_pretrained(checkpoint, **kwargs):
        seen.update(kwargs, checkpoint=checkpoint)
        return object()

    monkeypatch.setattr(Pipeline, "from_pretrained", from_pretrained)
    if token:
        monkeypatch.setenv("HF_TOKEN", token)
    else:
        monkeypatch.delenv("HF_TOKEN", raising=False)
    pyannote_models.load_pipeline.cache_clear()
    try:
        pyannote_models.load_pipeline("pyannote/speaker-diarization-community-1")
    finally:
        pyannote_models.load_pipeline.cache_clear()
    assert seen == {"checkpoint": "pyannote/speaker-diarization-community-1", "token": token}


def test_gated_hub_pipeline_without_token_says_set_hf_token(monkeypatch, capsys):
    from huggingface_hub.errors import GatedRepoError

    Pipeline = pyannote_models.import_pyannote()
    gated = GatedRepoError.__new__(GatedRepoError)  # its constructor wants an HTTP response
    Exception.__init__(gated, "401 Client Error: Cannot access gated repo")

    def from_pretrained(checkpoint, **kwargs):
        print("advice that a library must not print")
        raise gated

    monkeypatch.setattr(Pipeline, "from_pretrained", from_pretrained)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with pytest.raises(ModelError, match=r"cannot load \(GatedRepoError\); gated on the hub .+ "
                                         r"https://hf.co/owner/gated-pipeline and set HF_TOKEN"):
        pyannote_models.load_pipeline("owner/gated-pipeline")
    assert capsys.readouterr().out == ""


def test_cli_reports_a_missing_pipeline_in_one_line(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(f"diarization:\n  pyannote_pipeline: {tmp_path / 'absent'}\n")
    proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "analyze", str(SAMPLE), "--out",
                           str(tmp_path / "out"), "--config", str(config), "--diarization", "pyannote"],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "absent: no such directory" in lines[0], proc.stderr
