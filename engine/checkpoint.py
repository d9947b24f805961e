"""Reading and writing model checkpoints: our own files and the published IONIS ones.

Files are written atomically (temp file in the same folder, fsync, rename) so a killed
process never leaves a half-written checkpoint behind.
"""

from __future__ import annotations

import io
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from engine.atomic import atomic_write, clean_stale_tmp  # noqa: F401  (re-exported)
from engine.bands import BANDS
from engine.errors import CheckpointError
from engine.features import BY_TRUNK_DIM, FEATURE_SETS, FeatureSet
from engine.model import IonisGate

FORMAT = "ionis-tui/1"
DEFAULT_NORM = {b.id: (b.snr_mean, b.snr_std) for b in BANDS}
# No trained IONIS weight comes near this; beyond it, sums of a few products overflow float32
# and every prediction is inf or NaN, which no check downstream could grade honestly.
MAX_ABS_WEIGHT = 1e6


@dataclass
class LoadedModel:
    model: IonisGate
    feature_set: FeatureSet
    path: Path
    kind: str                      # "ionis-tui", "published-v22", "published-v20", "live"
    meta: dict[str, Any] = field(default_factory=dict)
    norm: dict[int, tuple[float, float]] = field(default_factory=lambda: dict(DEFAULT_NORM))

    @property
    def label(self) -> str:
        # A run's files all share names (best.safetensors, last.pt): say which run.
        run = self.path.parent.name if self.kind == "ionis-tui" and self.path.parent.name else ""
        name = f"{run}/{self.path.name}" if run else self.path.name
        return f"{name} ({self.kind}, {self.feature_set.name})"


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> Path:
    def write(tmp: str) -> None:
        # Serialized in memory (a few MB), then written with a plain write: a full disk is
        # then always an OSError (ENOSPC) the caller can name, never torch's RuntimeError
        # "unexpected pos" (which its writer raises on a short write).
        buf = io.BytesIO()
        torch.save(obj, buf)
        with open(tmp, "wb") as fh:
            fh.write(buf.getbuffer())
    return atomic_write(path, write)


def model_state(model: IonisGate) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", torch.float32).contiguous().clone() for k, v in model.state_dict().items()}


def model_config(model: IonisGate) -> dict[str, Any]:
    """What it takes to rebuild the model: stored in our checkpoints, so loading never has to
    guess the architecture from the trunk's width."""
    return {"feature_set": model.feature_set.name, "trunk_dim": model.feature_set.trunk_dim,
            "sidecar_hidden": int(model.sun_sidecar.fc1.out_features)}


def save_safetensors(model: IonisGate, path: str | os.PathLike, meta: dict[str, Any] | None = None) -> Path:
    """Weights plus string metadata: format, model config, norm constants and any run facts."""
    md = {"format": FORMAT, "feature_set": model.feature_set.name, "model_config": json.dumps(model_config(model)),
          "norm_constants": json.dumps({str(k): list(v) for k, v in DEFAULT_NORM.items()})}
    for k, v in (meta or {}).items():
        md[k] = v if isinstance(v, str) else json.dumps(v)
    state = model_state(model)
    return atomic_write(path, lambda tmp: _save_file(state, tmp, md, Path(path)))


def _save_file(state: dict[str, torch.Tensor], tmp: str, md: dict[str, str], target: Path) -> None:
    # safetensors reports a full disk as its own error type; callers handle file-system
    # faults as OSError (one message naming the path and the fix).
    try:
        save_file(state, tmp, metadata=md)
    except SafetensorError as exc:
        m = re.search(r"os error (\d+)", str(exc))
        if m is None:
            raise
        code = int(m.group(1))
        raise OSError(code, os.strerror(code), str(target.parent)) from None


def _safetensors_metadata(path: Path) -> dict[str, str]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        return dict(fh.metadata() or {})


def _published_meta(path: Path, trunk_dim: int) -> dict[str, Any]:
    """Metadata of a published IONIS file from its sibling *_meta.json / config_v2x.json."""
    version = BY_TRUNK_DIM[trunk_dim].name
    for cand in (path.with_name(path.stem + "_meta.json"), path.with_name(f"config_{version}.json")):
        if cand.is_file():
            try:
                return json.loads(cand.read_text())
            except (OSError, ValueError):
                continue
    return {}


def _meta_dict(meta: dict[str, Any], key: str) -> dict[str, Any]:
    """A metadata entry that is a dict, or JSON text of one (safetensors metadata is strings);
    {} when absent or unreadable."""
    raw = meta.get(key)
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raw = None
    return raw if isinstance(raw, dict) else {}


def _norm_from_meta(meta: dict[str, Any]) -> dict[int, tuple[float, float]]:
    norm = dict(DEFAULT_NORM)
    raw = _meta_dict(meta, "norm_constants")
    if raw:
        for k, v in raw.items():
            try:
                if isinstance(v, dict):  # published layout: {"wspr": [mean, std], ...}
                    v = v.get("wspr")
                norm[int(k)] = (float(v[0]), float(v[1]))
            except (TypeError, ValueError, IndexError, KeyError):
                continue
    return norm


def _config_from_meta(meta: dict[str, Any]) -> dict[str, Any]:
    return _meta_dict(meta, "model_config")

def _check_finite(state: dict[str, torch.Tensor], path: Path) -> None:
    """Refuse NaN, inf or absurdly large weights, naming the tensor, before anything predicts."""
    for name, t in state.items():
        if not torch.is_tensor(t) or not t.is_floating_point():
            continue
        t = t.detach().to(torch.float64)
        if not torch.isfinite(t).all():
            raise CheckpointError(f"{path}: tensor {name} holds NaN or infinite values; the model "
                                  f"diverged before this save: use an earlier checkpoint")
        if t.numel() and float(t.abs().max()) > MAX_ABS_WEIGHT:
            raise CheckpointError(f"{path}: tensor {name} holds a weight of {float(t.abs().max()):.3g} "
                                  f"(limit {MAX_ABS_WEIGHT:g}); the file is damaged or diverged: "
                                  f"use an earlier checkpoint")


def _build(state: dict[str, torch.Tensor], path: Path, meta: dict[str, Any], kind: str | None) -> LoadedModel:
    w = state.get("trunk.0.weight")
    if w is None or w.ndim != 2:
        raise CheckpointError(f"{path}: not an IONIS checkpoint (no trunk.0.weight tensor)")
    config = _config_from_meta(meta)
    fs_name = config.get("feature_set", meta.get("feature_set"))
    if fs_name in FEATURE_SETS:
        fs = FEATURE_SETS[fs_name]
    elif int(w.shape[1]) in BY_TRUNK_DIM:  # published files carry no config: the width says it
        fs = BY_TRUNK_DIM[int(w.shape[1])]
    else:
        raise CheckpointError(f"{path}: trunk takes {w.shape[1]} inputs; known widths are 15 (V22) and 11 (V20)")
    if kind is None:
        if meta.get("format") == FORMAT:
            kind = "ionis-tui"
        else:
            kind = f"published-{fs.name}"
            meta = {**_published_meta(path, fs.trunk_dim), **meta}
    _check_finite(state, path)
    model = IonisGate(fs, sidecar_hidden=int(config.get("sidecar_hidden", 8)))
    try:
        model.load_state_dict({k: v.to(torch.float32) for k, v in state.items()}, strict=True)
    except RuntimeError as exc:
        # Line 1 is only "Error(s) in loading state_dict for IonisGate:"; line 2 names the key.
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        first = " ".join(lines[:2])[:400]
        raise CheckpointError(f"{path}: weights do not fit the IONIS {fs.name} model: {first}") from None
    model.eval()
    if "data_provenance" in meta:  # safetensors metadata is text: the same dict as last.pt's
        meta = {**meta, "data_provenance": _meta_dict(meta, "data_provenance") or None}
    return LoadedModel(model, fs, path, kind, meta, _norm_from_meta(meta))


def _read_error(exc: Exception, p: Path) -> str:
    """A one-line reason. Never torch's advice to retry with weights_only=False: that would
    run whatever code a malicious .pt file carries."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc)
    if "weights_only" in text or "Unpickl" in text or type(exc).__name__ == "UnpicklingError":
        return ("not a checkpoint ionis-tui can read safely (a .pt must hold tensors and plain "
                "values only); re-save it with ionis-tui or use a .safetensors file")
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    if isinstance(exc, SafetensorError) and "No such file" in first:
        first = "not a readable .safetensors file (damaged or not safetensors)"
    return first[:300]


def load_model(path: str | os.PathLike) -> LoadedModel:
    """Load a .safetensors (ours or published) or our .pt training checkpoint onto the CPU."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"checkpoint not found: {p}")
    try:
        if p.suffix == ".safetensors":
            return _build(load_file(str(p)), p, _safetensors_metadata(p), None)
        ckpt = torch.load(str(p), map_location="cpu", weights_only=True)
    except CheckpointError:
        raise
    except Exception as exc:  # safetensors, OS, pickle errors from a foreign or corrupt file
        raise CheckpointError(f"cannot read checkpoint {p}: {_read_error(exc, p)}") from None
    if not isinstance(ckpt, dict) or "model" not in ckpt:
        raise CheckpointError(f"{p}: not an ionis-tui training checkpoint (no 'model' entry)")
    meta = dict(ckpt.get("meta") or {})
    meta.setdefault("format", FORMAT)
    if "epoch" in ckpt:
        meta.setdefault("epoch", ckpt["epoch"])
    return _build(ckpt["model"], p, meta, "ionis-tui")


def from_live(model: IonisGate, label: str = "live", meta: dict[str, Any] | None = None) -> LoadedModel:
    """A detached CPU copy of a model being trained, so evaluating it never touches training.
    meta: what a saved checkpoint of the run would carry (its data_source, so verification
    grades the live model on truth exactly as it grades the run's best.safetensors)."""
    state = model_state(model)
    _check_finite(state, Path(label))  # a diverged live model is refused like a damaged file
    copy = IonisGate(model.feature_set)
    copy.load_state_dict(state)
    copy.eval()
    return LoadedModel(copy, model.feature_set, Path(label), "live", meta=dict(meta or {}))
