"""Reading and writing model checkpoints: our own files and the published IONIS ones.

Files are written atomically (temp file in the same folder, fsync, rename) so a killed
process never leaves a half-written checkpoint behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from engine.bands import BANDS
from engine.errors import CheckpointError
from engine.features import BY_TRUNK_DIM, FEATURE_SETS, FeatureSet
from engine.model import IonisGate

FORMAT = "ionis-tui/1"
DEFAULT_NORM = {b.id: (b.snr_mean, b.snr_std) for b in BANDS}


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
        return f"{self.path.name} ({self.kind}, {self.feature_set.name})"


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call write(tmp_path) then rename over path, so readers see the old or the new file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> Path:
    return atomic_write(path, lambda tmp: torch.save(obj, tmp))


def model_state(model: IonisGate) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", torch.float32).contiguous().clone() for k, v in model.state_dict().items()}


def save_safetensors(model: IonisGate, path: str | os.PathLike, meta: dict[str, Any] | None = None) -> Path:
    """Weights plus string metadata: format, feature set, norm constants and any run facts."""
    md = {"format": FORMAT, "feature_set": model.feature_set.name,
          "norm_constants": json.dumps({str(k): list(v) for k, v in DEFAULT_NORM.items()})}
    for k, v in (meta or {}).items():
        md[k] = v if isinstance(v, str) else json.dumps(v)
    state = model_state(model)
    return atomic_write(path, lambda tmp: save_file(state, tmp, metadata=md))


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


def _norm_from_meta(meta: dict[str, Any]) -> dict[int, tuple[float, float]]:
    norm = dict(DEFAULT_NORM)
    raw = meta.get("norm_constants")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raw = None
    if isinstance(raw, dict):
        for k, v in raw.items():
            try:
                if isinstance(v, dict):  # published layout: {"wspr": [mean, std], ...}
                    v = v.get("wspr")
                norm[int(k)] = (float(v[0]), float(v[1]))
            except (TypeError, ValueError, IndexError, KeyError):
                continue
    return norm


def _build(state: dict[str, torch.Tensor], path: Path, meta: dict[str, Any], kind: str | None) -> LoadedModel:
    w = state.get("trunk.0.weight")
    if w is None or w.ndim != 2:
        raise CheckpointError(f"{path}: not an IONIS checkpoint (no trunk.0.weight tensor)")
    fs_name = meta.get("feature_set")
    if fs_name in FEATURE_SETS:
        fs = FEATURE_SETS[fs_name]
    elif int(w.shape[1]) in BY_TRUNK_DIM:
        fs = BY_TRUNK_DIM[int(w.shape[1])]
    else:
        raise CheckpointError(f"{path}: trunk takes {w.shape[1]} inputs; known widths are 15 (V22) and 11 (V20)")
    if kind is None:
        if meta.get("format") == FORMAT:
            kind = "ionis-tui"
        else:
            kind = f"published-{fs.name}"
            meta = {**_published_meta(path, fs.trunk_dim), **meta}
    model = IonisGate(fs)
    try:
        model.load_state_dict({k: v.to(torch.float32) for k, v in state.items()}, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise CheckpointError(f"{path}: weights do not fit the IONIS {fs.name} model: {first}") from None
    model.eval()
    return LoadedModel(model, fs, path, kind, meta, _norm_from_meta(meta))


def load_model(path: str | os.PathLike) -> LoadedModel:
    """Load a .safetensors (ours or published) or our .pt training checkpoint onto the CPU."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"checkpoint not found: {p}")
    try:
        if p.suffix == ".safetensors":
            return _build(load_file(str(p)), p, _safetensors_metadata(p), None)
        ckpt = torch.load(str(p), map_location="cpu", weights_only=True)
    except (SafetensorError, OSError, RuntimeError, ValueError, EOFError) as exc:
        raise CheckpointError(f"cannot read checkpoint {p}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    except Exception as exc:  # pickle errors from a foreign or corrupt .pt file
        raise CheckpointError(f"cannot read checkpoint {p}: {type(exc).__name__}: {exc}") from None
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
    copy = IonisGate(model.feature_set)
    copy.load_state_dict(model_state(model))
    copy.eval()
    return LoadedModel(copy, model.feature_set, Path(label), "live", meta=dict(meta or {}))
