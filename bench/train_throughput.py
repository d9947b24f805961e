"""Training throughput: the trainer against the model's own bound and an original-style loop.

    python bench/train_throughput.py [--rows 120000] [--epochs 5] [--batch-size 16384] [--threads N] [--json]

All three are measured in ONE process on the same synthetic rows, batch size and device:
  trainer      TrainingSession (the real loop: data on the device, a seeded randperm per
               epoch, index slices); samples/s of its training loop (evaluation excluded),
               median over epochs.
  model bound  forward + backward + AdamW step + clamp on ONE prepared batch repeated: no
               data movement at all, the fastest any loop can be. Measured (one epoch's worth
               of steps) before the first epoch and after each one; every epoch is compared
               with the faster of its two neighbours, so the ratio is not flattered and
               background load on a shared machine cancels out; the median ratio is reported.
  dataloader   the original's style: DataLoader(TensorDataset(...), shuffle=True) over a
               random_split, per-sample indexing and collation; one epoch, with the bound
               measured just before and after it. ratio_vs_dataloader compares the two loops
               as fractions of their neighbouring bounds ((trainer/bound) / (dataloader/bound));
               ratio_vs_dataloader_raw is the plain quotient of the two samples/s.
Targets: trainer >= 0.9 x model bound and >= 1.5 x the DataLoader loop (exit 1 if missed).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from torch.nn import functional as F  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset, random_split  # noqa: E402

from engine.features import FEATURE_SETS  # noqa: E402
from engine.model import IonisGate, clamp_sidecars, parameter_groups, pick_device  # noqa: E402
from engine.settings import Settings  # noqa: E402
from engine.train.events import EpochEnd, RunStarted  # noqa: E402
from engine.train.prepare import prepare  # noqa: E402
from engine.train.session import TrainingSession  # noqa: E402
from engine.train.synthetic import synthetic_rows  # noqa: E402

TARGET_VS_BOUND, TARGET_VS_DATALOADER = 0.9, 1.5


def _recipe(settings: Settings, device: torch.device):
    """A fresh model and optimizer, and one training step exactly as the trainer does it."""
    tr = settings.train
    model = IonisGate(tr.feature_set).to(device)
    g = parameter_groups(model)
    opt = torch.optim.AdamW([{"params": g["trunk"], "lr": tr.lr_trunk},
                             {"params": g["scaler"], "lr": tr.lr_scaler},
                             {"params": g["sidecar"], "lr": tr.lr_sidecar}], weight_decay=tr.weight_decay)

    def step(x, y, w):
        p = model.parts(x)
        wl = (F.huber_loss(p["out"], y, reduction="none", delta=tr.huber_delta) * w).mean()
        loss = wl - tr.gate_var_lambda * (p["sun_gate"].var(correction=0) + p["storm_gate"].var(correction=0))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        clamp_sidecars(model, tr.clamp_min, tr.clamp_max)
        return wl.detach()
    return step


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()
    elif device.type == "mps":
        torch.mps.synchronize()


def model_bound(settings: Settings, data, device, steps: int) -> float:
    bs = settings.train.batch_size
    x, y, w = (t[:bs].contiguous() for t in (data.train.x, data.train.y, data.train.w))
    step = _recipe(settings, device)
    for _ in range(2):  # warm-up: allocator, kernel selection
        step(x, y, w)
    _sync(device)
    t0 = time.perf_counter()
    acc = torch.zeros((), device=device)
    for _ in range(steps):
        acc += step(x, y, w)
    acc.item()
    return steps * x.shape[0] / (time.perf_counter() - t0)


def dataloader_loop(settings: Settings, data, device) -> float:
    tr = settings.train
    # The original kept everything in one dataset and split it at random by rows.
    x = torch.cat([data.train.x, data.val.x]).cpu()
    y = torch.cat([data.train.y, data.val.y]).cpu()
    w = torch.cat([data.train.w, data.val.w]).cpu()
    n_val = int(len(y) * tr.val_fraction)
    train_ds, _ = random_split(TensorDataset(x, y, w), [len(y) - n_val, n_val],
                               generator=torch.Generator().manual_seed(tr.seed))
    loader = DataLoader(train_ds, batch_size=tr.batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(tr.seed))
    step = _recipe(settings, device)
    xb, yb, wb = next(iter(loader))
    step(xb.to(device), yb.to(device), wb.to(device))  # warm-up, as for the others
    _sync(device)
    t0 = time.perf_counter()
    n = 0
    acc = torch.zeros((), device=device)
    for xb, yb, wb in loader:
        acc += step(xb.to(device), yb.to(device), wb.to(device))
        n += len(yb)
    acc.item()
    return n / (time.perf_counter() - t0)


def trainer_with_bound(settings: Settings, rows, data, device, steps: int) -> tuple[list[float], list[float]]:
    """Trainer samples/s per epoch, and the model bound measured before the first epoch and
    after every epoch (in the EpochEnd callback, outside the trainer's timed loop), so each
    epoch is compared with bounds taken right next to it: background load cancels out."""
    per_epoch: list[float] = []
    bounds: list[float] = []

    def on_event(e) -> None:
        if isinstance(e, RunStarted):
            bounds.append(model_bound(settings, data, device, steps))
        elif isinstance(e, EpochEnd):
            per_epoch.append(e.metrics["samples_per_s"])
            bounds.append(model_bound(settings, data, device, steps))
    with tempfile.TemporaryDirectory() as tmp:
        end = TrainingSession(settings, rows=rows, run_dir=Path(tmp) / "run", on_event=on_event).run()
    if end.state != "finished":
        raise SystemExit(f"trainer run ended {end.state}: {end.message}")
    return per_epoch, bounds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=120_000)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=16384)
    ap.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    ap.add_argument("--threads", type=int, default=0, help="torch intra-op threads (default: torch's choice)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    if a.threads > 0:
        torch.set_num_threads(a.threads)

    settings = Settings()
    tr = settings.train
    tr.epochs, tr.batch_size, tr.device, tr.progress_interval = a.epochs, a.batch_size, a.device, 60.0
    device = pick_device(tr.device)
    rows = synthetic_rows(a.rows, seed=1, val_fraction=tr.val_fraction)
    torch.manual_seed(0)
    data = prepare(rows, FEATURE_SETS[tr.feature_set], device)
    steps = -(-data.train.n // tr.batch_size)

    per_epoch, bounds = trainer_with_bound(settings, rows, data, device, steps)
    # Each epoch against the faster of the bounds measured just before and just after it.
    ratios = [v / max(bounds[i], bounds[i + 1]) for i, v in enumerate(per_epoch)]
    sps, ratio = statistics.median(per_epoch), statistics.median(ratios)
    # The DataLoader epoch gets its own neighbouring bounds; comparing the two loops as
    # fractions of the bound measured around each keeps a shared machine's load swings out.
    dl_before = model_bound(settings, data, device, steps)
    dl = dataloader_loop(settings, data, device)
    dl_after = model_bound(settings, data, device, steps)
    dl_ratio = dl / max(dl_before, dl_after)

    res = {"samples_per_s": round(sps, 1), "model_bound_samples_per_s": round(statistics.median(bounds), 1),
           "dataloader_samples_per_s": round(dl, 1),
           "ratio_vs_model_bound": round(ratio, 4), "ratio_vs_dataloader": round(ratio / dl_ratio, 4),
           "ratio_vs_dataloader_raw": round(sps / dl, 4), "dataloader_vs_model_bound": round(dl_ratio, 4),
           "trainer_epochs_samples_per_s": [round(v, 1) for v in per_epoch],
           "model_bound_runs": [round(v, 1) for v in bounds],
           "dataloader_bound_runs": [round(dl_before, 1), round(dl_after, 1)],
           "rows_train": data.train.n, "batch_size": tr.batch_size, "epochs": a.epochs,
           "device": str(device), "threads": torch.get_num_threads(),
           "targets": {"ratio_vs_model_bound": TARGET_VS_BOUND, "ratio_vs_dataloader": TARGET_VS_DATALOADER}}
    ok = res["ratio_vs_model_bound"] >= TARGET_VS_BOUND and res["ratio_vs_dataloader"] >= TARGET_VS_DATALOADER
    if a.json:
        print(json.dumps(res))
    else:
        print(f"{data.train.n:,} training rows, batch {tr.batch_size}, {a.epochs} epochs on {device} "
              f"({torch.get_num_threads()} threads)")
        print(f"trainer      {sps:12,.0f} samples/s  (per epoch {', '.join(f'{v:,.0f}' for v in per_epoch)})")
        print(f"model bound  {res['model_bound_samples_per_s']:12,.0f} samples/s  -> trainer at {ratio:.1%} "
              f"(median per-epoch ratio; target >= {TARGET_VS_BOUND:.0%})")
        print(f"dataloader   {dl:12,.0f} samples/s  ({dl_ratio:.1%} of its neighbouring bound) -> trainer "
              f"{ratio / dl_ratio:.2f}x (raw {sps / dl:.2f}x; target >= {TARGET_VS_DATALOADER}x)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
