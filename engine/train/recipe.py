"""The training recipe in one place: optimizer, schedule and the step itself.

The session's loop and the throughput benchmark both call these, so the benchmark's
"model bound" is exactly the trainer's step with the data handling taken away.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from engine.model import IonisGate, clamp_sidecars, parameter_groups
from engine.settings import TrainSettings
from engine.train.physics_recipe import censored_median, within_cell_output


def build_optimizer(model: IonisGate, tr: TrainSettings) -> torch.optim.AdamW:
    """AdamW with differential learning rates; group names become the lr_* metric keys."""
    g = parameter_groups(model)
    return torch.optim.AdamW([
        {"params": g["trunk"], "lr": tr.lr_trunk, "name": "trunk"},
        {"params": g["sun_scaler"], "lr": tr.experimental.lr_sun_scaler, "name": "sun_scaler"},
        {"params": g["storm_scaler"], "lr": tr.lr_storm_scaler, "name": "storm_scaler"},
        {"params": g["sidecar"], "lr": tr.lr_sidecar, "name": "sidecar"},
    ], weight_decay=tr.weight_decay)


def restore_optimizer(opt: torch.optim.Optimizer, state: dict) -> None:
    """Load a saved optimizer state. torch also restores each group's saved "name", and runs
    saved before the storm gate head's group was renamed call it "scaler": the names (the lr_*
    metric keys) stay those build_optimizer gave, the saved rates and moments are kept."""
    names = [g["name"] for g in opt.param_groups]
    opt.load_state_dict(state)
    for g, name in zip(opt.param_groups, names, strict=True):
        g["name"] = name


def build_scheduler(opt: torch.optim.Optimizer, tr: TrainSettings) -> torch.optim.lr_scheduler.CosineAnnealingLR:
    return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=tr.epochs, eta_min=tr.eta_min)


def compared(out: torch.Tensor, x: torch.Tensor, tr: TrainSettings) -> torch.Tensor:
    """What the training loss compares with median_snr: the output, or its decode-floor-censored
    median (train.experimental.censor_spread_db > 0). Validation scores always use the output."""
    ex = tr.experimental
    if ex.censor_spread_db <= 0:
        return out
    return censored_median(out, x, ex.censor_floor_db, ex.censor_spread_db)


def training_step(model: IonisGate, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
                  w: torch.Tensor, tr: TrainSettings, sfi_cell: torch.Tensor | None = None) -> torch.Tensor:
    """One optimizer step; returns the batch's weighted Huber loss (detached, on the device,
    so the caller decides when to pay for a device sync). sfi_cell: each row's cell-mean sfi
    feature (Split.sfi_cell), used when train.experimental.sun_gate_within_cell is on."""
    within = tr.experimental.sun_gate_within_cell and sfi_cell is not None
    p = within_cell_output(model, x, sfi_cell) if within else model.parts(x)
    wl = (F.huber_loss(compared(p["out"], x, tr), y, reduction="none", delta=tr.huber_delta) * w).mean()
    # Gate-variance bonus. Population variance: a one-row last batch must not give NaN.
    loss = wl - tr.gate_var_lambda * (p["sun_gate"].var(correction=0) + p["storm_gate"].var(correction=0))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    clamp_sidecars(model, tr.clamp_min, tr.clamp_max)
    return wl.detach()
