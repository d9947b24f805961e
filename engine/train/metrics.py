"""What one epoch is measured by: validation quality, sidecar health and physics effects.

Definitions (the TUI and the README rely on them). Every val_* score but val_objective compares
the model's plain output with median_snr, whatever the training loss, so it means the same for
every run:
- val_loss: spot_count-weighted mean Huber loss of the output over validation rows.
- val_objective: the training loss itself over validation rows (train_loss's definition): with
  train.experimental.censor_spread_db > 0 it compares the output's decode-floor-censored median,
  else it equals val_loss. The best epoch (best_epoch, best.safetensors) is its lowest;
  best_val_loss is that epoch's val_loss.
- val_rmse_sigma: sqrt(mean(error^2)) over validation rows, UNWEIGHTED (each signature counts
  once), error = prediction - target in sigma. A real RMSE, not sqrt(Huber).
- val_rmse_db: the same with each row's error times its own band's dB-per-sigma.
- val_pearson: unweighted Pearson correlation of prediction and target over validation rows.
- *_pinned_low/high: share of a sidecar's fc1/fc2 weights within 1e-6 of the clamp floor/ceiling.
- sun_effect: prediction at SFI 200 minus SFI 70 (Kp 2); storm_effect: Kp 0 minus Kp 9
  (SFI 150); both on W3 -> G, 20m, 12 UTC, June; dB = sigma * the 20m band's std.
- sun/storm_gate_mean: mean gate over validation rows; *_gate_at_bound: share of validation rows
  whose gate is within 0.02 of its 0.5 / 2.0 bound (flat sigmoid: no gradient, no further scaling).
- sun_truth_db / storm_truth_db: the demo generator's true effect at the same conditions
  (engine.demo.truth, mid-June day); null when the rows are not demo data.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.nn import functional as F

from engine.checkpoint import from_live
from engine.model import GATE_HI, GATE_LO, IonisGate
from engine.predict import Path_, predict_parts
from engine.sidecar_health import is_dead, is_saturated, pinned_share
from engine.train.prepare import Split

# The keys of one metrics.jsonl line / EpochEnd payload, in order (the TUI reads them).
METRIC_KEYS = (
    "epoch", "epochs", "train_loss", "val_loss", "val_rmse_sigma", "val_rmse_db", "val_pearson", "val_objective",
    "sun_fc2_bias", "storm_fc2_bias", "sun_pinned_low", "sun_pinned_high", "storm_pinned_low",
    "storm_pinned_high", "sun_effect_sigma", "sun_effect_db", "storm_effect_sigma", "storm_effect_db",
    "sun_truth_db", "storm_truth_db",
    "sun_gate_mean", "storm_gate_mean", "sun_gate_at_bound", "storm_gate_at_bound", "lr_trunk", "lr_sun_scaler", "lr_storm_scaler", "lr_sidecar", "samples_per_s",
    "epoch_s", "elapsed_s", "eta_s", "best_epoch", "best_val_loss", "warnings", "time",
    "device",  # where the epoch ran: "cpu" even when train.device asked for cuda/mps
    "phase",   # 1, or higher after a resume with --force on changed data (state.json "phases")
)
REF_PATH = Path_.parse("W3", "G", "20m", 12, 6)
EVAL_BATCH = 65536
GATE_BOUND_TOL = 0.02


def finite_or_none(v: float) -> float | None:
    """JSON has no NaN: a metric that cannot be computed is written as null."""
    return float(v) if math.isfinite(v) else None


def at_bound(g: torch.Tensor) -> torch.Tensor:
    """Share of rows whose gate is within GATE_BOUND_TOL of 0.5 or 2.0: there the sigmoid is flat,
    the gate passes (almost) no gradient and cannot scale its sidecar any further."""
    return ((g < GATE_LO + GATE_BOUND_TOL) | (g > GATE_HI - GATE_BOUND_TOL)).float().mean()


@torch.no_grad()
def evaluate(model: IonisGate, val: Split, huber_delta: float, compare=None) -> dict[str, float]:
    """Validation scores of the plain output; compare(out, x): what the training loss compares
    with the target instead (None: the output itself), scored separately as val_objective."""
    n = val.n
    dev = val.y.device
    pred = torch.empty(n, device=dev)
    trained = torch.empty(n, device=dev) if compare is not None else pred
    sun_gate = torch.empty(n, device=dev)
    storm_gate = torch.empty(n, device=dev)
    for i in range(0, n, EVAL_BATCH):
        x = val.x[i:i + EVAL_BATCH]
        p = model.parts(x)
        pred[i:i + EVAL_BATCH] = p["out"]
        if compare is not None:
            trained[i:i + EVAL_BATCH] = compare(p["out"], x)
        sun_gate[i:i + EVAL_BATCH] = p["sun_gate"]
        storm_gate[i:i + EVAL_BATCH] = p["storm_gate"]
    err = pred - val.y

    def weighted_huber(a: torch.Tensor) -> torch.Tensor:
        return (F.huber_loss(a, val.y, reduction="none", delta=huber_delta) * val.w).sum() / val.w.sum()

    loss = weighted_huber(pred)
    pc, yc = pred - pred.mean(), val.y - val.y.mean()
    out = torch.stack([
        loss,
        err.square().mean().sqrt(),
        (err * val.std).square().mean().sqrt(),
        (pc * yc).sum() / ((pc.square().sum() * yc.square().sum()).sqrt()),
        loss if compare is None else weighted_huber(trained),
        sun_gate.mean(),
        storm_gate.mean(),
        at_bound(sun_gate),
        at_bound(storm_gate),
    ]).tolist()  # one device sync for all nine
    keys = ("val_loss", "val_rmse_sigma", "val_rmse_db", "val_pearson", "val_objective", "sun_gate_mean",
            "storm_gate_mean", "sun_gate_at_bound", "storm_gate_at_bound")
    return dict(zip(keys, out, strict=True))


@torch.no_grad()
def sidecar_stats(model: IonisGate, lo: float, hi: float) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, sc in model.sidecars().items():
        w = torch.cat([sc.fc1.weight.flatten(), sc.fc2.weight.flatten()])
        out[f"{name}_fc2_bias"] = float(sc.fc2.bias.item())
        out[f"{name}_pinned_low"] = pinned_share(w, lo)
        out[f"{name}_pinned_high"] = pinned_share(w, hi)
    return out


def effects(model: IonisGate) -> dict[str, float]:
    lm = from_live(model)
    std = REF_PATH.band.snr_std
    sun = predict_parts(lm, REF_PATH, sfi=np.array([70.0, 200.0]), kp=2.0)["sigma"]
    storm = predict_parts(lm, REF_PATH, sfi=150.0, kp=np.array([0.0, 9.0]))["sigma"]
    sun_s, storm_s = float(sun[1] - sun[0]), float(storm[0] - storm[1])
    return {"sun_effect_sigma": sun_s, "sun_effect_db": sun_s * std,
            "storm_effect_sigma": storm_s, "storm_effect_db": storm_s * std}


def true_effects(demo: bool) -> dict[str, float | None]:
    """The demo truth's sun and storm effect on the reference path, next to the model's."""
    if not demo:
        return {"sun_truth_db": None, "storm_truth_db": None}
    from engine.demo.truth import true_storm_effect_db, true_sun_effect_db
    from engine.geo import mid_month_doy

    p = REF_PATH
    args = (p.tx[0], p.tx[1], p.rx[0], p.rx[1], float(p.band.freq_hz), p.hour, float(mid_month_doy(p.month)))
    return {"sun_truth_db": float(true_sun_effect_db(*args, sfi_low=70.0, sfi_high=200.0, kp=2.0)),
            "storm_truth_db": float(true_storm_effect_db(*args, kp_low=0.0, kp_high=9.0, sfi=150.0))}


def sidecar_warnings(stats: dict[str, float], lo: float, hi: float) -> list[str]:
    """The original trained six versions with a dead sun sidecar and never said so; we do."""
    out = []
    for name, drive in (("sun", "SFI"), ("storm", "Kp")):
        if is_dead(stats[f"{name}_pinned_low"]):
            out.append(f"{name} sidecar is dead: all its weights sit at the clamp floor {lo:g}, so its "
                       f"{drive} effect is only the floor's fixed curve, not learned")
        elif is_saturated(stats[f"{name}_pinned_high"]):
            out.append(f"{name} sidecar is saturated: all its weights sit at the clamp ceiling {hi:g}, "
                       f"so the clamp, not the data, sets its {drive} effect")
    return out
