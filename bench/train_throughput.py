"""Training throughput: the trainer against the model's own bound and an original-style loop.

    python bench/train_throughput.py [--rows 120000] [--epochs 5] [--batch-size 16384] [--threads N] [--json]

All three are measured in ONE process on the same synthetic rows, batch size and device,
interleaved so that a shared machine's changing load hits them alike:

    bound, [trainer epoch, dataloader epoch, bound] x epochs

  trainer      TrainingSession (the real loop: data on the device, a seeded randperm per
               epoch, index slices); samples/s of each epoch's training loop (evaluation
               excluded). The other two run inside its EpochEnd callback, i.e. between its
               epochs and outside its timed loop.
  model bound  forward + backward + AdamW step + clamp on ONE prepared batch repeated (one
               epoch's worth of steps): no data movement at all, the fastest any loop can be.
  dataloader   the original's style: DataLoader(TensorDataset(...), shuffle=True) over a
               random_split, per-sample indexing and collation; one epoch.
ratio_vs_model_bound = median over epochs of trainer / mean(bound before, bound after);
ratio_vs_dataloader  = median over epochs of trainer / the dataloader epoch right after it.
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
from torch.utils.data import DataLoader, TensorDataset, random_split  # noqa: E402

from engine.features import FEATURE_SETS  # noqa: E402
from engine.model import IonisGate, pick_device  # noqa: E402
from engine.settings import Settings  # noqa: E402
from engine.train.events import EpochEnd, RunStarted  # noqa: E402
from engine.train.physics_recipe import init_sidecars  # noqa: E402
from engine.train.prepare import prepare  # noqa: E402
from engine.train.recipe import build_optimizer, training_step  # noqa: E402
from engine.train.session import TrainingSession  # noqa: E402
from engine.train.synthetic import synthetic_rows  # noqa: E402

TARGET_VS_BOUND, TARGET_VS_DATALOADER = 0.9, 1.5


def _recipe(settings: Settings, device: torch.device):
    """A fresh model and optimizer, and the trainer's own step function for them."""
    tr = settings.train
    model = IonisGate(tr.feature_set).to(device)
    init_sidecars(model, tr.experimental.sidecar_init_weight, tr.seed,
                  sun_weight=tr.experimental.sun_sidecar_init_weight)  # the trainer's start
    opt = build_optimizer(model, tr)
    return lambda x, y, w, c=None: training_step(model, opt, x, y, w, tr, c)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()
    elif device.type == "mps":
        torch.mps.synchronize()


def model_bound(settings: Settings, data, device, steps: int) -> float:
    bs = settings.train.batch_size
    x, y, w, c = (t[:bs].contiguous() for t in (data.train.x, data.train.y, data.train.w, data.train.sfi_cell))
    step = _recipe(settings, device)
    for _ in range(2):  # warm-up: allocator, kernel selection
        step(x, y, w, c)
    _sync(device)
    t0 = time.perf_counter()
    acc = torch.zeros((), device=device)
    for _ in range(steps):
        acc += step(x, y, w, c)
    acc.item()
    return steps * x.shape[0] / (time.perf_counter() - t0)


def make_dataloader_epoch(settings: Settings, data, device):
    """One epoch of the original-style loop per call; returns its samples/s."""
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

    def epoch() -> float:
        _sync(device)
        t0 = time.perf_counter()
        n = 0
        acc = torch.zeros((), device=device)
        for xb, yb, wb in loader:
            acc += step(xb.to(device), yb.to(device), wb.to(device))
            n += len(yb)
        acc.item()
        return n / (time.perf_counter() - t0)
    return epoch


def interleaved(settings: Settings, rows, data, device, steps: int):
    trainer: list[float] = []
    bounds: list[float] = []
    loader: list[float] = []
    dataloader_epoch = make_dataloader_epoch(settings, data, device)

    def on_event(e) -> None:
        if isinstance(e, RunStarted):
            bounds.append(model_bound(settings, data, device, steps))
        elif isinstance(e, EpochEnd):
            trainer.append(e.metrics["samples_per_s"])
            loader.append(dataloader_epoch())
            bounds.append(model_bound(settings, data, device, steps))
    with tempfile.TemporaryDirectory() as tmp:
        end = TrainingSession(settings, rows=rows, run_dir=Path(tmp) / "run", on_event=on_event).run()
    if end.state != "finished":
        raise SystemExit(f"trainer run ended {end.state}: {end.message}")
    return trainer, bounds, loader


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

    trainer, bounds, loader = interleaved(settings, rows, data, device, steps)
    vs_bound = [t / ((bounds[i] + bounds[i + 1]) / 2) for i, t in enumerate(trainer)]
    vs_loader = [t / d for t, d in zip(trainer, loader, strict=True)]
    sps, bound, dl = (statistics.median(v) for v in (trainer, bounds, loader))
    res = {"samples_per_s": round(sps, 1), "model_bound_samples_per_s": round(bound, 1),
           "dataloader_samples_per_s": round(dl, 1),
           "ratio_vs_model_bound": round(statistics.median(vs_bound), 4),
           "ratio_vs_dataloader": round(statistics.median(vs_loader), 4),
           "per_epoch": {"trainer": [round(v, 1) for v in trainer], "model_bound": [round(v, 1) for v in bounds],
                         "dataloader": [round(v, 1) for v in loader],
                         "ratio_vs_model_bound": [round(v, 4) for v in vs_bound],
                         "ratio_vs_dataloader": [round(v, 4) for v in vs_loader]},
           "rows_train": data.train.n, "batch_size": tr.batch_size, "epochs": a.epochs,
           "device": str(device), "threads": torch.get_num_threads(),
           "targets": {"ratio_vs_model_bound": TARGET_VS_BOUND, "ratio_vs_dataloader": TARGET_VS_DATALOADER}}
    ok = res["ratio_vs_model_bound"] >= TARGET_VS_BOUND and res["ratio_vs_dataloader"] >= TARGET_VS_DATALOADER
    if a.json:
        print(json.dumps(res))
    else:
        print(f"{data.train.n:,} training rows, batch {tr.batch_size}, {a.epochs} epochs on {device} "
              f"({torch.get_num_threads()} threads); medians over epochs")
        print(f"trainer      {sps:12,.0f} samples/s")
        print(f"model bound  {bound:12,.0f} samples/s  -> trainer at {res['ratio_vs_model_bound']:.1%} "
              f"(target >= {TARGET_VS_BOUND:.0%})")
        print(f"dataloader   {dl:12,.0f} samples/s  -> trainer {res['ratio_vs_dataloader']:.2f}x "
              f"(target >= {TARGET_VS_DATALOADER}x)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
