"""Recipe pieces that decide whether training recovers the physics (issue 10): the sidecars'
starting slope, the weight of storm rows and a loss that knows about the decode floor. Their
knobs are in [train.experimental] (sidecar_init_weight, sun_sidecar_init_weight, storm_weight,
censor_spread_db, censor_floor_db); the ablation table (linked from the README) says what each does."""

from __future__ import annotations

import math

import torch

from engine.bands import BANDS
from engine.features import FeatureSet
from engine.model import IonisGate

STORM_KP = 3.0  # rows with avg_kp at or above this count as storm rows for storm_weight
ANCHOR_X = 0.5  # sidecar input where its output starts at 0 (SFI 150, Kp 4.5)


@torch.no_grad()
def init_sidecars(model: IonisGate, weight: float, seed: int, sun_weight: float | None = None) -> None:
    """Draw the storm sidecar's weights from weight * U(0.9, 1.1), the sun sidecar's from
    sun_weight (default: weight) * U(0.9, 1.1). The sidecar's slope grows with the product of
    its two layers' weights: the stock 0.8-1.2 start puts a Kp 0 -> 9 storm cost of ~37 dB on
    every path, which the sparse Kp signal in the data never drains. The start also sets the
    scale the gates work at (gate x sidecar is what the data fix), so the sun sidecar starts
    larger: its gates then sit mid-range instead of at the 0.5 floor on 20m (README, row Z2)."""
    g = torch.Generator().manual_seed(seed)
    scale = {"sun": weight if sun_weight is None else sun_weight, "storm": weight}
    for name, sc in model.sidecars().items():
        for lin in (sc.fc1, sc.fc2):
            u = torch.rand(lin.weight.shape, generator=g) * 0.2 + 0.9
            lin.weight.copy_((u * scale[name]).to(lin.weight.device))
    # Output 0 mid-range: the gate then scales an effect, not a large constant the base head has
    # to cancel (the stock -10 bias suits only weights near 1). Anchoring at quiet conditions
    # (SFI 70, Kp 0) instead made both gates collapse faster (README ablation). With b2 at 0
    # first, b2 = -|W2|.softplus(|W1| x): the output at ANCHOR_X is exactly 0.
    for sc in model.sidecars().values():
        x = torch.full((1, 1), ANCHOR_X, device=sc.fc2.bias.device)
        sc.fc2.bias.zero_()
        sc.fc2.bias.sub_(sc(x).reshape(1))


def storm_weights(x: torch.Tensor, w: torch.Tensor, fs: FeatureSet, factor: float) -> torch.Tensor:
    """Training weights with rows at Kp >= STORM_KP counted `factor` times, mean kept at 1."""
    if factor == 1.0:
        return w
    kp = 9.0 * (1.0 - x[:, fs.kp_idx])
    out = w * torch.where(kp >= STORM_KP, factor, 1.0)
    return out * (w.sum() / out.sum())


def _band_norm(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row's band SNR mean and dB-per-sigma, from its freq_log feature (column 1)."""
    log_f = torch.tensor([math.log10(b.freq_hz) / 8.0 for b in BANDS], device=x.device)
    i = (x[:, 1:2] - log_f[None, :]).abs().argmin(dim=1)
    mean = torch.tensor([b.snr_mean for b in BANDS], device=x.device)[i]
    std = torch.tensor([b.snr_std for b in BANDS], device=x.device)[i]
    return mean, std


def censored_median(out: torch.Tensor, x: torch.Tensor, floor_db: float, spread_db: float) -> torch.Tensor:
    """The median of the spots that survive the decode floor, when the model's output (sigma)
    is the mean SNR of all spots, spread N(0, spread_db): a signature's median_snr only sees
    decoded spots, so near the floor it sits above the mean. Compared with median_snr in the
    loss, the model learns the uncensored SNR, and with it the full storm and sun effects.
    Median of a normal truncated below at F: mu + s * ndtri((1 + ndtr((F - mu) / s)) / 2)."""
    mean, std = _band_norm(x)
    s = spread_db / std
    a = ((floor_db - mean) / std - out) / s
    p = ((1.0 + torch.special.ndtr(a)) / 2.0).clamp(max=1.0 - 1e-6)
    return out + s * torch.special.ndtri(p)


def within_cell_output(model: IonisGate, x: torch.Tensor, sfi_cell: torch.Tensor) -> dict[str, torch.Tensor]:
    """model.parts(x) with the same output, but the sun gate learns only from how SFI varies inside
    a cell (rows of one path, band, hour and month in different space-weather classes): the part
    of the sun term at the cell's mean SFI reaches the gate detached. Otherwise the gate also fits
    whatever level the base head has not fitted yet (the sidecar is non-zero on most rows) and
    learns levels instead of per-path sensitivity; the base head still gets the whole output.
    Forward values, the sidecar's gradients and the saved model are unchanged."""
    p = model.parts(x)
    g = p["sun_gate"]
    at_mean = model.sun_sidecar(sfi_cell).squeeze(-1)
    sun = g.detach() * at_mean + g * (p["sun"] - at_mean)
    return {**p, "out": p["base"] + sun + p["storm_gate"] * p["storm"]}
