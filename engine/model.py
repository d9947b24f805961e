"""IonisGate: a geography/time trunk with gated, monotonic sun and storm sidecars."""

from __future__ import annotations

import math

import torch
from torch import nn

from engine.features import FEATURE_SETS, FeatureSet

GATE_LO, GATE_HI = 0.5, 2.0  # a gate scales its sidecar by this much at least / at most
GATE_INIT_BIAS = -math.log(2.0)  # sigmoid(-ln 2) = 1/3, so 0.5 + 1.5/3 = 1.0 at start


def gate(logit: torch.Tensor) -> torch.Tensor:
    """Map a logit to [GATE_LO, GATE_HI] = [0.5, 2.0]."""
    return GATE_LO + (GATE_HI - GATE_LO) * torch.sigmoid(logit)


class MonotonicMLP(nn.Module):
    """y = |W2| . softplus(|W1| x + b1) + b2: non-decreasing in x. b1 is 0 and frozen (the
    published architecture). The weights and b2 a run starts from are set by the recipe
    (engine.train.physics_recipe.init_sidecars), not here: the published "defibrillator" start
    (weights U(0.8, 1.2), b2 = -10) was always overwritten by it, and a checkpoint load sets all."""

    def __init__(self, hidden: int = 8):
        super().__init__()
        self.fc1 = nn.Linear(1, hidden)
        self.fc2 = nn.Linear(hidden, 1)
        with torch.no_grad():
            self.fc1.bias.zero_()
        self.fc1.bias.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = nn.functional.softplus(nn.functional.linear(x, self.fc1.weight.abs(), self.fc1.bias))
        return nn.functional.linear(h, self.fc2.weight.abs(), self.fc2.bias)


def _head(width: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(width, hidden), nn.Mish(), nn.Linear(hidden, 1))


class IonisGate(nn.Module):
    def __init__(self, feature_set: FeatureSet | str = "v22", sidecar_hidden: int = 8):
        super().__init__()
        fs = FEATURE_SETS[feature_set] if isinstance(feature_set, str) else feature_set
        self.feature_set = fs
        self.trunk = nn.Sequential(nn.Linear(fs.trunk_dim, 512), nn.Mish(), nn.Linear(512, 256), nn.Mish())
        self.base_head = _head(256, 128)
        self.sun_scaler_head = _head(256, 64)
        self.storm_scaler_head = _head(256, 64)
        self.sun_sidecar = MonotonicMLP(sidecar_hidden)
        self.storm_sidecar = MonotonicMLP(sidecar_hidden)
        with torch.no_grad():
            for h in (self.sun_scaler_head, self.storm_scaler_head):
                h[2].weight.zero_()
                h[2].bias.fill_(GATE_INIT_BIAS)

    def parts(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every term of the output, each (N,): base, gates, raw sidecars and the prediction."""
        fs = self.feature_set
        h = self.trunk(x[:, : fs.trunk_dim])
        base = self.base_head(h).squeeze(-1)
        sun_gate = gate(self.sun_scaler_head(h).squeeze(-1))
        storm_gate = gate(self.storm_scaler_head(h).squeeze(-1))
        sun = self.sun_sidecar(x[:, fs.sfi_idx : fs.sfi_idx + 1]).squeeze(-1)
        storm = self.storm_sidecar(x[:, fs.kp_idx : fs.kp_idx + 1]).squeeze(-1)
        out = base + sun_gate * sun + storm_gate * storm
        return {"out": out, "base": base, "sun_gate": sun_gate, "storm_gate": storm_gate,
                "sun": sun, "storm": storm}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.parts(x)["out"]

    def sidecars(self) -> dict[str, MonotonicMLP]:
        return {"sun": self.sun_sidecar, "storm": self.storm_sidecar}


@torch.no_grad()
def clamp_sidecars(model: IonisGate, lo: float = 0.5, hi: float = 2.0) -> None:
    """Keep sidecar weights in [lo, hi]; called after every optimizer step."""
    for sc in model.sidecars().values():
        sc.fc1.weight.clamp_(lo, hi)
        sc.fc2.weight.clamp_(lo, hi)


def parameter_groups(model: IonisGate) -> dict[str, list[nn.Parameter]]:
    """Trainable parameters split for differential learning rates. The two gate heads learn at
    different rates (issue 10): "sun_scaler" is the sun gate head, "storm_scaler" the storm gate head."""
    def trainable(*mods: nn.Module) -> list[nn.Parameter]:
        return [p for m in mods for p in m.parameters() if p.requires_grad]
    return {
        "trunk": trainable(model.trunk, model.base_head),
        "sun_scaler": trainable(model.sun_scaler_head),
        "storm_scaler": trainable(model.storm_scaler_head),
        "sidecar": trainable(model.sun_sidecar, model.storm_sidecar),
    }


def pick_device(preference: str = "auto") -> torch.device:
    """mps, else cuda, else cpu; an explicit choice that is unavailable falls back to cpu."""
    mps = getattr(torch.backends, "mps", None)
    has_mps = bool(mps and mps.is_available())
    if preference == "mps" and has_mps:
        return torch.device("mps")
    if preference == "cuda" and torch.cuda.is_available():
        return torch.device("cuda")
    if preference == "auto":
        if has_mps:
            return torch.device("mps")
        if torch.cuda.is_available():
            return torch.device("cuda")
    return torch.device("cpu")
