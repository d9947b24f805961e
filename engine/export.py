"""Export a checkpoint in the peer's layout, so its own tool (PyPI `ionis-validate`) runs on it.

DIR/<name>.safetensors   the weights (the same 24 tensors, float32)
DIR/config.json          the peer's config layout: model dims, checkpoint, features, band_to_hz,
                         norm_constants_per_band {"111": {"wspr": {"mean", "std"}}}
DIR/<name>_meta.json     the metadata the peer reads beside a checkpoint (val_rmse in sigma,
                         val_pearson) plus where the model came from

The peer builds V22 features for every prediction, so only V22-layout models can be exported:
a V20-layout model would be silently misread there, and is refused here.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any

from engine.atomic import atomic_write
from engine.bands import BY_ID
from engine.checkpoint import LoadedModel, load_model, model_state
from engine.errors import InputError

PEER_FEATURES = "v22"  # the only layout ionis-validate feeds (include_solar_depression=True)
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def default_name(path: Path) -> str:
    """The checkpoint's stem; a run's best/last file is named after its run folder."""
    stem = path.stem
    if stem in ("best", "last") and path.parent.name:
        stem = f"{path.parent.name}_{stem}"
    return re.sub(r"[^A-Za-z0-9_.-]", "_", stem)


def peer_config(lm: LoadedModel, name: str) -> dict[str, Any]:
    fs = lm.feature_set
    hidden = int(lm.model.sun_sidecar.fc1.out_features)
    return {
        "version": fs.name, "variant": "ionis-tui export", "phase": "exported by ionis-tui",
        "checkpoint": f"{name}.safetensors",
        "model": {"architecture": "IonisGate", "dnn_dim": fs.trunk_dim, "hidden_dim": 256,
                  "sidecar_hidden": hidden, "input_dim": fs.input_dim, "sfi_idx": fs.sfi_idx,
                  "kp_penalty_idx": fs.kp_idx, "gate_init_bias": round(-math.log(2.0), 3)},
        "features": list(fs.columns),
        "band_to_hz": {str(b): BY_ID[b].freq_hz for b in sorted(BY_ID)},
        "norm_constants_per_band": {str(b): {"wspr": {"mean": float(m), "std": float(s)}}
                                    for b, (m, s) in sorted(lm.norm.items())},
    }


def _num(v: Any) -> float | None:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def peer_meta(lm: LoadedModel) -> dict[str, Any]:
    m = lm.meta or {}
    fs = lm.feature_set
    out: dict[str, Any] = {
        "version": fs.name, "architecture": "IonisGate", "exported_from": str(lm.path), "source_kind": lm.kind,
        # The peer's val_rmse is sqrt(mean Huber loss); ours is a real RMSE in sigma.
        "val_rmse": _num(m.get("val_rmse_sigma", m.get("val_rmse"))), "val_rmse_is": "rmse in sigma",
        "val_pearson": _num(m.get("val_pearson")), "epoch": _num(m.get("epoch")),
        "dnn_dim": fs.trunk_dim, "sidecar_hidden": int(lm.model.sun_sidecar.fc1.out_features),
        "input_dim": fs.input_dim, "features": list(fs.columns),
    }
    for key in ("data_source", "data_table", "data_provenance", "run_id"):
        v = m.get(key)
        if isinstance(v, str) and v.strip().startswith("{"):
            try:
                v = json.loads(v)
            except ValueError:
                pass
        if v is not None:
            out[key] = v
    return out


def check_exportable(lm: LoadedModel) -> None:
    if lm.feature_set.name != PEER_FEATURES:
        raise InputError(
            f"{lm.path}: this model uses the {lm.feature_set.name} feature layout ({lm.feature_set.input_dim} "
            f"inputs, trunk {lm.feature_set.trunk_dim}); ionis-validate builds V22 features (17 inputs) for "
            f"every prediction and would silently misread it, so it is not exported. Train with the v22 "
            f"features to use the peer's tool")


def export_peer(checkpoint: str | os.PathLike, out_dir: str | os.PathLike, name: str | None = None) -> dict[str, Path]:
    """Write the three files (each atomically, replacing files of the same names); returns their
    paths. Refuses a layout the peer cannot feed before anything is written."""
    from safetensors.torch import save_file

    lm = load_model(checkpoint)
    check_exportable(lm)
    name = name or default_name(Path(checkpoint))
    if not NAME.match(name):
        raise InputError(f"export name {name!r}: use letters, digits, '_', '-' or '.' (no path)")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"--peer {out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    state = model_state(lm.model)
    paths = {"weights": out / f"{name}.safetensors", "config": out / "config.json",
             "meta": out / f"{name}_meta.json"}
    atomic_write(paths["weights"], lambda tmp: save_file(state, tmp, metadata={"format": "pt"}))
    for key, doc in (("config", peer_config(lm, name)), ("meta", peer_meta(lm))):
        text = json.dumps(doc, indent=2) + "\n"
        atomic_write(paths[key], lambda tmp, t=text: Path(tmp).write_text(t, encoding="utf-8"))
    return paths
