"""TrainingSession: one training run, driven by the trainer process (`ionis-tui train`), controlled
from any thread (its control channel, tests).

The loop keeps the whole data set on the device and draws each epoch's order with its own
seeded generator, so a run is reproducible and a resumed run (even from the middle of an
epoch) continues exactly where it stopped. Nothing in the hot loop waits on the device
except the throttled progress points; non-finite losses are caught before any save.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from engine.checkpoint import (
    FORMAT,
    LoadedModel,
    atomic_torch_save,
    from_live,
    model_config,
    model_state,
    save_safetensors,
)
from engine.data.rows import SignatureRows
from engine.errors import CheckpointError, InputError, IonisError, StorageError, describe_os_error
from engine.features import FEATURE_SETS
from engine.model import IonisGate, pick_device
from engine.settings import Settings
from engine.train import data_identity, metrics
from engine.train.data_identity import DataIdentity
from engine.train.events import (
    FAILED,
    FINISHED,
    IDLE,
    LOADING,
    PAUSED,
    STOPPED,
    TRAINING,
    CheckpointSaved,
    EpochEnd,
    Event,
    LoadProgress,
    Notice,
    RunEnded,
    RunStarted,
    StateChanged,
    StepProgress,
)
from engine.train.heartbeat import Heartbeat
from engine.train.lock import RunLock
from engine.train.physics_recipe import init_sidecars, storm_weights
from engine.train.prepare import prepare
from engine.train.recipe import (
    build_optimizer,
    build_scheduler,
    compared,
    restore_optimizer,
    training_step,
)
from engine.train.rundir import BEST, LAST, RunFolder, resume_settings

RowsLoader = Callable[[Callable[[int, int], None], Callable[[], bool]], SignatureRows | None]
TIMING_KEYS = ("samples_per_s", "epoch_s", "elapsed_s", "eta_s", "time")
VALIDATION_NOTE_ROWS = 1_000_000  # from this many validation rows, validating reports progress
VALIDATION_NOTE_S = 5.0


class DataChanged(InputError):
    """A resume refused because the run's data changed (without force=True / --force)."""


class _Halt(Exception):
    """Ends the run from deep inside the loop with a final state and message."""

    def __init__(self, state: str, message: str):
        super().__init__(message)
        self.state, self.message = state, message


def _read_last(path: Path) -> dict[str, Any]:
    try:
        ck = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # torn, foreign or corrupt file
        raise CheckpointError(f"cannot read {path}: {type(exc).__name__}: {exc}") from None
    need = ("model", "optimizer", "scheduler", "epoch", "step", "rng", "best", "meta")
    if not isinstance(ck, dict) or any(k not in ck for k in need):
        raise CheckpointError(f"{path} is not an ionis-tui training checkpoint (missing entries)")
    return ck


class TrainingSession:
    def __init__(self, settings: Settings, *, rows: SignatureRows | None = None,
                 rows_loader: RowsLoader | None = None, run_dir: Path | None = None,
                 resume: Path | None = None, on_event: Callable[[Event], None] | None = None,
                 data_source: str = "", data: DataIdentity | None = None, force: bool = False):
        """data: what the rows are (recorded in state.json and checkpoints; its provenance kind
        decides "demo data?"; a resume compares it with the run's). force: a resume whose data
        changed continues as a new phase instead of being refused."""
        if (rows is None) == (rows_loader is None):
            raise ValueError("TrainingSession needs exactly one of rows= or rows_loader=")
        if run_dir is not None and resume is not None:
            raise ValueError("run_dir= and resume= exclude each other: a resumed run keeps its folder")
        self._rows, self._loader = rows, rows_loader
        self._on_event = on_event
        self.data_source = data_source or (data.source if data else "")
        self._data_id, self._force = data, force
        self._changed: list[str] = []  # what differs from the run's data (a forced resume)
        self._ckpt: dict[str, Any] | None = None
        self._pending_notes: list[str] = []
        try:
            self._open_folder(settings, run_dir, resume)
        except OSError as exc:  # runs.dir is a file, not writable, on a full disk...
            raise StorageError(describe_os_error(exc)) from None
        self._best: dict[str, Any] = dict(self._ckpt["best"]) if self._ckpt else {}
        self._state = IDLE
        # Controls: plain flags read once per step (cheap), plus an Event to wake a paused loop.
        self._stop_req = self._pause_req = self._ckpt_req = False
        self._wake = threading.Event()
        self._lock = threading.Lock()   # held during each optimizer step; snapshots wait for it
        self._started = False
        self._model: IonisGate | None = None
        self._paused_s = 0.0
        self._elapsed0 = 0.0
        self._t0 = time.monotonic()
        self._epoch_times: list[float] = []
        self._warnings: list[str] = []

    def _open_folder(self, settings: Settings, run_dir: Path | None, resume: Path | None) -> None:
        if resume is not None:
            self._folder = RunFolder.open(resume)
            self._ckpt = _read_last(self._folder.file(LAST))
            # The caller's epoch total counts here: CLI and app pass the run's own unless told otherwise.
            self.settings, self._pending_notes = resume_settings(resume, settings, settings.train.epochs)
        else:
            self.settings = settings
            self._folder = (RunFolder.create_at(run_dir) if run_dir is not None
                            else RunFolder.create(settings.runs.dir, settings.train.feature_set))
        # Before anything is written: a second trainer on this folder is refused here.
        self._run_lock = RunLock.acquire(self._folder.path)
        if self._run_lock.note:
            self._pending_notes.append(self._run_lock.note)
        self._prior = dict(self._folder.state)
        self._check_data(resume)
        self._folder.write_settings(self.settings)
        self._folder.update_state(**self._data_meta(), state=IDLE, run_id=self.run_id,
                                  feature_set=self.settings.train.feature_set,
                                  epochs_total=self.settings.train.epochs,
                                  epochs_done=int(self._ckpt["epoch"]) if self._ckpt else 0, message="",
                                  stall_after_s=self.settings.runs.stall_after_s)
        self._heartbeat = Heartbeat(self._folder.path, lambda: self._state in (IDLE, LOADING, PAUSED))

    def _check_data(self, resume: Path | None) -> None:
        """Record the data of a new run; refuse a resume on changed data unless forced."""
        now = self._data_id
        if now is None:
            return
        then = DataIdentity.from_dict(self._prior) if resume is not None else None
        if then is None:  # a new run, or one from before data were recorded
            phases = [{"phase": 1, "from_epoch": 1, **now.to_dict()}]
            self._folder.state.update(phase=1, phases=phases, **now.to_dict())
            return
        self._changed = data_identity.changes(then, now)
        if self._changed and not self._force:
            self._run_lock.release()
            raise DataChanged(data_identity.refusal(self._folder.path, self._changed))

    # ---- controls, callable from any thread -------------------------------------------------

    def pause(self) -> None:
        self._pause_req = True
        self._wake.set()

    def resume(self) -> None:
        self._pause_req = False
        self._wake.set()

    def stop(self) -> None:
        """Save last.pt at the next step boundary and end with state STOPPED."""
        self._stop_req = True
        self._wake.set()

    def request_checkpoint(self) -> None:
        self._ckpt_req = True
        self._wake.set()

    def _data_meta(self) -> dict[str, Any]:
        """What checkpoints and the run folder record about the training rows."""
        out: dict[str, Any] = {"data_source": self.data_source} if self.data_source else {}
        if self._data_id is not None:
            d = self._data_id.to_dict()
            out.update(data_provenance=d["data_provenance"], data_table=d["data_table"])
        return out

    @property
    def state(self) -> str:
        return self._state

    @property
    def run_id(self) -> str:
        return self._folder.run_id

    @property
    def run_dir(self) -> Path:
        return self._folder.path

    def snapshot_model(self) -> LoadedModel | None:
        """A CPU copy of the live model taken between two steps; None before training starts."""
        with self._lock:
            if self._model is None:
                return None
            # as best.safetensors records it: verify grades truth alike
            meta = {"run_id": self.run_id, **self._data_meta()}
            return from_live(self._model, label=self.run_id, meta=meta)

    # ---- the run ------------------------------------------------------------------------------

    def run(self) -> RunEnded:
        """Load, train, checkpoint; blocks until the run ends and returns its RunEnded."""
        if self._started:
            raise RuntimeError("a TrainingSession runs once; create a new one (or resume the run folder)")
        self._started = True
        self._heartbeat.start()
        try:
            return self._run()
        except _Halt as halt:
            return self._end(halt.state, halt.message)
        except DataChanged as exc:  # found after loading: the run goes back to how it was
            self._folder.state = dict(self._prior)
            self._folder.update_state()
            self._emit(RunEnded(str(self._prior.get("state", STOPPED)), str(exc), dict(self._best)))
            raise
        except IonisError as exc:
            return self._end(FAILED, str(exc))
        except KeyboardInterrupt:
            self._end(STOPPED, f"interrupted; {self._kept()}")
            raise
        except OSError as exc:  # a full disk, a folder where best.safetensors belongs...
            message = f"{describe_os_error(exc)}; {self._kept()}"
            try:
                self._end(FAILED, message)
            except OSError:
                pass  # state.json cannot be written either; the error below still says why
            raise StorageError(message) from None
        except BaseException as exc:
            self._end(FAILED, f"internal error: {type(exc).__name__}: {exc}")
            raise
        finally:
            self._heartbeat.stop()
            self._run_lock.release()

    def _run(self) -> RunEnded:
        tr = self.settings.train
        for note in self._pending_notes:
            self._emit(Notice("info", note))
        if self._ckpt is not None and int(self._ckpt["epoch"]) >= tr.epochs:
            return self._end(FINISHED, f"all {tr.epochs} epochs were already trained; "
                                       "give more epochs to train further")
        self._set_state(LOADING)
        rows = self._load()
        device = self._device = pick_device(tr.device)
        if tr.device not in ("auto", device.type):
            self._emit(Notice("warning", f"train.device = {tr.device!r} is not available on this "
                                         f"machine: training on {device.type}"))
        data = prepare(rows, FEATURE_SETS[tr.feature_set], device)
        rows = self._rows = None  # the float32 rows are no longer needed; free them
        if data.leaked_paths:
            self._emit(Notice("warning", f"{data.leaked_paths} paths (tx, rx) appear in both training and "
                                         "validation rows: validation scores will be optimistic"))
        torch.manual_seed(tr.seed)
        model = IonisGate(tr.feature_set).to(device)
        ex = tr.experimental
        init_sidecars(model, ex.sidecar_init_weight, tr.seed, sun_weight=ex.sun_sidecar_init_weight)
        data.train.w = storm_weights(data.train.x, data.train.w, FEATURE_SETS[tr.feature_set], ex.storm_weight)
        opt = build_optimizer(model, tr)
        sched = build_scheduler(opt, tr)
        gen = torch.Generator().manual_seed(tr.seed)  # CPU generator: same order on every device
        self._opt, self._sched, self._gen, self._data = opt, sched, gen, data
        start_epoch, start_step, partial = 1, 0, torch.empty(0)
        if self._ckpt is not None:
            start_epoch, start_step, partial = self._restore(model)
        with self._lock:
            self._model = model
        self._t0 = time.monotonic()
        self._emit(RunStarted(self.run_id, str(self.run_dir), str(device), data.train.n, data.val.n,
                              tr.epochs, start_epoch, sum(p.numel() for p in model.parameters()),
                              self.data_source))
        self._set_state(TRAINING)
        for epoch in range(start_epoch, tr.epochs + 1):
            self._train_epoch(epoch, start_step, partial)
            start_step, partial = 0, torch.empty(0)
        b = self._best
        return self._end(FINISHED, f"finished {tr.epochs} epochs; best epoch {b['epoch']}: val loss "
                                   f"{b['val_loss']:.4f}, RMSE {b['val_rmse_db']:.2f} dB, Pearson "
                                   f"{b['val_pearson']:+.4f} ({self.run_dir / BEST})")

    def _load(self) -> SignatureRows:
        if self._rows is not None:
            return self._rows

        def progress(done: int, total: int) -> None:
            self._emit(LoadProgress(int(done), int(total)))

        try:
            rows = self._loader(progress, lambda: self._stop_req)
        except IonisError:
            if self._stop_req:
                raise _Halt(STOPPED, "stopped while loading data; nothing was trained") from None
            raise
        if rows is None or self._stop_req:
            raise _Halt(STOPPED, "stopped while loading data; nothing was trained")
        return rows

    def _restore(self, model: IonisGate) -> tuple[int, int, torch.Tensor]:
        ck, tr = self._ckpt, self.settings.train
        epoch, step = int(ck["epoch"]), int(ck["step"])
        partial = ck.get("partial_losses", torch.empty(0))
        if self._rows_changed(ck["meta"]):
            # The saved step count and partial losses index the old data's batches: redo the epoch.
            step, partial = 0, torch.empty(0)
        if self._changed:
            self._new_phase(epoch + 1)  # refused here unless forced
        try:
            model.load_state_dict(ck["model"])
            restore_optimizer(self._opt, ck["optimizer"])
            self._sched.load_state_dict(ck["scheduler"])
        except (RuntimeError, ValueError, KeyError, TypeError) as exc:
            lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
            raise CheckpointError(f"{self._folder.file(LAST)} does not fit the run's {tr.feature_set} "
                                  f"model: {' '.join(lines[1:2] or lines[:1])}; start a new run") from None
        if self._sched.T_max != tr.epochs:
            old = self._sched.T_max
            self._sched = self._replayed_schedule(int(ck["epoch"]))
            rates = ", ".join(f"{g['name']} {g['lr']:.3g}" for g in self._opt.param_groups)
            self._emit(Notice("info", f"epochs changed from {old} to {tr.epochs}: the learning rates now "
                                      f"follow a fresh {tr.epochs}-epoch cosine schedule (epoch "
                                      f"{int(ck['epoch']) + 1}: {rates})"))
        self._gen.set_state(ck["rng"]["perm"])
        torch.set_rng_state(ck["rng"]["torch"])
        self._elapsed0 = float(ck["meta"].get("elapsed_s", 0.0))
        self._folder.keep_metrics_through(epoch)
        self._emit(Notice("info", f"resumed from {self._folder.file(LAST)} at epoch {epoch + 1}"
                                  + (f", step {step + 1}" if step else "")))
        self._ckpt = None
        return epoch + 1, step, partial

    def _rows_changed(self, meta: dict[str, Any]) -> bool:
        """Do the loaded rows differ from the checkpoint's (counts, checksum)? Says how."""
        d = self._data
        then, now = (meta.get("rows_train"), meta.get("rows_val")), (d.train.n, d.val.n)
        if (*then, meta.get("checksum")) == (*now, d.checksum):
            return False
        self._changed.append(f"train/val rows: {then[0]}/{then[1]} then, {now[0]}/{now[1]} now" if then != now
                             else "the rows' values (same counts, other checksum)")
        return True

    def _new_phase(self, from_epoch: int) -> None:
        """Data changed: refused unless forced; forced, the run goes on as a new phase whose
        best epoch is tracked afresh (validation on other rows is not comparable)."""
        if not self._force:
            raise DataChanged(data_identity.refusal(self._folder.path, self._changed))
        st = self._folder.state
        phase = int(st.get("phase") or 1) + 1
        now = self._data_id.to_dict() if self._data_id else {}
        entry = {"phase": phase, "from_epoch": from_epoch, "changed": list(self._changed), **now}
        self._best = {}
        self._folder.update_state(phase=phase, phases=[*st.get("phases", []), entry], **now,
                                  best_epoch=None, best_val_pearson=None, best_val_rmse_db=None)
        self._emit(Notice("warning", f"data changed ({'; '.join(self._changed)}): continuing as phase "
                                     f"{phase} from epoch {from_epoch} (--force); the best epoch is now "
                                     "tracked on the new data only"))

    def _replayed_schedule(self, epochs_done: int) -> torch.optim.lr_scheduler.LRScheduler:
        """The schedule a fresh run with today's epoch total would have after `epochs_done`
        epochs: built anew and stepped as that run steps it (same operations, same floats).
        Only resetting T_max keeps the old run's decayed rate and can leave it at the floor."""
        import warnings

        for g in self._opt.param_groups:
            g["lr"] = g["initial_lr"]
        with warnings.catch_warnings():  # "scheduler.step() before optimizer.step()": intended
            warnings.simplefilter("ignore", UserWarning)
            sched = build_scheduler(self._opt, self.settings.train)
            for _ in range(epochs_done):
                sched.step()
        return sched

    def _train_epoch(self, epoch: int, start_step: int, partial: torch.Tensor) -> None:
        tr, d, model, opt = self.settings.train, self._data, self._model, self._opt
        x, y, w, sfi_cell = d.train.x, d.train.y, d.train.w, d.train.sfi_cell
        n = d.train.n
        bs = min(tr.batch_size, n)
        steps = math.ceil(n / bs)
        dev = y.device
        sizes = torch.full((steps,), float(bs), device=dev)
        sizes[-1] = float(n - bs * (steps - 1))
        interval, lock, beat = tr.progress_interval, self._lock, self._heartbeat.mark

        t_start, paused_start = time.monotonic(), self._paused_s
        perm_state = self._gen.get_state()  # the epoch's order can be redrawn from this on resume
        perm = torch.randperm(n, generator=self._gen).to(dev)
        losses = torch.zeros(steps, device=dev)  # per-step weighted Huber, summed only when needed
        if partial.numel():
            losses[: partial.numel()] = partial.to(dev)
        last_emit = t_start

        def save_here(kind: str, done: int) -> None:
            self._save_last(epochs_done=epoch - 1, step=done, done_losses=losses[:done],
                            perm_state=perm_state, kind=kind, epoch=epoch)

        for step in range(start_step, steps):
            idx = perm[step * bs:(step + 1) * bs]
            with lock:
                losses[step] = training_step(model, opt, x[idx], y[idx], w[idx], tr, sfi_cell[idx])
            beat()
            # A request during the epoch's last step waits for the epoch's end (_controls_after):
            # a checkpoint there is a clean epoch boundary, and a resume from it never steps the
            # scheduler before the optimizer (nothing would be left to train in that epoch).
            if (self._stop_req or self._pause_req or self._ckpt_req) and step + 1 < steps:
                self._controls(lambda kind, done=step + 1: save_here(kind, done),
                               f"during epoch {epoch} (after step {step + 1} of {steps})")
            now = time.monotonic()
            if now - last_emit >= interval:
                last_emit = now
                done = step + 1
                running = ((losses[:done] * sizes[:done]).sum() / sizes[:done].sum()).item()
                if not math.isfinite(running):
                    self._check_finite(losses[:done], epoch)
                busy = now - t_start - (self._paused_s - paused_start)
                rows_done = min(done * bs, n) - start_step * bs
                self._emit(StepProgress(epoch, done, steps, running, rows_done / max(busy, 1e-9),
                                        self._elapsed()))
        train_s = time.monotonic() - t_start - (self._paused_s - paused_start)
        train_loss = ((losses * sizes).sum() / n).item()
        self._check_finite(losses, epoch)
        self._end_epoch(epoch, train_loss, (n - min(start_step * bs, n)) / max(train_s, 1e-9), t_start, paused_start)

    def _end_epoch(self, epoch: int, train_loss: float, samples_per_s: float,
                   t_start: float, paused_start: float) -> None:
        """Evaluate, track the best, write the metrics line and checkpoints, then the schedule
        and any control asked for during the epoch."""
        scores = self._evaluate(epoch)
        self._heartbeat.mark()
        improved = self._track_best(epoch, scores)
        epoch_s = time.monotonic() - t_start - (self._paused_s - paused_start)
        line = self._metrics_line(epoch, train_loss, samples_per_s, epoch_s, scores)
        self._persist(epoch, line, improved)
        self._sched.step()
        # The generator has already drawn this epoch's order: its state starts the next epoch.
        self._save_last(epochs_done=epoch, step=0, done_losses=torch.empty(0),
                        perm_state=self._gen.get_state(), kind="last", epoch=epoch)
        b = self._best
        self._folder.update_state(epochs_done=epoch, best_epoch=b["epoch"],
                                  best_val_pearson=metrics.finite_or_none(b["val_pearson"]),
                                  best_val_rmse_db=metrics.finite_or_none(b["val_rmse_db"]))
        self._controls_after(epoch)

    def _evaluate(self, epoch: int) -> dict[str, Any]:
        """Validation scores, sidecar statistics and physical effects of the model now."""
        tr, model = self.settings.train, self._model
        scores = metrics.evaluate(model, self._data.val, tr.huber_delta,
                                  lambda out, x: compared(out, x, tr), self._validation_progress(epoch))
        if not math.isfinite(scores["val_loss"]):
            raise _Halt(FAILED, f"validation loss became non-finite at epoch {epoch}; {self._kept()}")
        scores["stats"] = metrics.sidecar_stats(model, tr.clamp_min, tr.clamp_max)
        scores["effects"] = {**metrics.effects(model),
                              **metrics.true_effects(bool(self._data_id and self._data_id.is_demo))}
        return scores

    def _validation_progress(self, epoch: int) -> Callable[[int, int], None] | None:
        """A long validation (millions of rows) says it started and, every VALIDATION_NOTE_S,
        how far it got: the viewers' log moves while no training step does."""
        n = self._data.val.n
        if n < VALIDATION_NOTE_ROWS:
            return None
        self._emit(Notice("info", f"validating epoch {epoch}: {n:,} rows"))
        last = [time.monotonic()]

        def progress(done: int, total: int) -> None:
            now = time.monotonic()
            if now - last[0] >= VALIDATION_NOTE_S and done < total:
                last[0] = now
                self._emit(Notice("info", f"validating epoch {epoch}: {done:,}/{total:,} rows "
                                          f"({100 * done / total:.0f}%)"))
        return progress

    def _track_best(self, epoch: int, scores: dict[str, Any]) -> bool:
        # The best epoch is the one the training objective scores best on validation rows (runs
        # saved before val_objective existed kept that objective in val_loss).
        b = self._best
        improved = not b or scores["val_objective"] < b.get("val_objective", b["val_loss"])
        if improved:
            self._best = {"epoch": epoch, **{k: scores[k] for k in (
                "val_loss", "val_objective", "val_rmse_sigma", "val_rmse_db", "val_pearson")}}
        return improved

    def _metrics_line(self, epoch: int, train_loss: float, samples_per_s: float, epoch_s: float,
                      scores: dict[str, Any]) -> dict[str, Any]:
        tr = self.settings.train
        lrs = {f"lr_{g['name']}": float(g["lr"]) for g in self._opt.param_groups}  # the epoch's rates
        self._epoch_times.append(epoch_s)
        mean_epoch = sum(self._epoch_times) / len(self._epoch_times)
        line: dict[str, Any] = {
            "epoch": epoch, "epochs": tr.epochs, "phase": int(self._folder.state.get("phase") or 1),
            "train_loss": train_loss,
            "val_loss": scores["val_loss"], "val_rmse_sigma": scores["val_rmse_sigma"],
            "val_rmse_db": scores["val_rmse_db"], "val_pearson": scores["val_pearson"],
            "val_objective": scores["val_objective"], **scores["stats"], **scores["effects"],
            "sun_gate_mean": scores["sun_gate_mean"], "storm_gate_mean": scores["storm_gate_mean"],
            "sun_gate_at_bound": scores["sun_gate_at_bound"], "storm_gate_at_bound": scores["storm_gate_at_bound"],
            **lrs, "samples_per_s": samples_per_s, "epoch_s": epoch_s, "elapsed_s": self._elapsed(),
            "eta_s": mean_epoch * (tr.epochs - epoch),
            "best_epoch": self._best["epoch"], "best_val_loss": self._best["val_loss"],
            "warnings": metrics.sidecar_warnings(scores["stats"], tr.clamp_min, tr.clamp_max),
            "time": datetime.now(UTC).isoformat(timespec="seconds"), "device": self._device.type,
        }
        return {k: metrics.finite_or_none(line[k]) if isinstance(line[k], float) else line[k]
                for k in metrics.METRIC_KEYS}

    def _persist(self, epoch: int, line: dict[str, Any], improved: bool) -> None:
        """metrics.jsonl, the epoch event, new warnings once, and best.safetensors when better."""
        self._folder.append_metrics(line)
        self._emit(EpochEnd(line))
        warnings = line["warnings"]
        for text in warnings:
            if text not in self._warnings:
                self._emit(Notice("warning", text))
        self._warnings = warnings
        if improved:
            meta = {"run_id": self.run_id, **self._data_meta(), **self._best,
                    "rows_train": self._data.train.n, "rows_val": self._data.val.n}
            path = save_safetensors(self._model, self._folder.file(BEST), meta)
            self._emit(CheckpointSaved(str(path), "best", epoch))

    def _controls_after(self, epoch: int) -> None:
        if self._stop_req or self._pause_req or self._ckpt_req:
            self._controls(lambda kind: self._save_last(
                epochs_done=epoch, step=0, done_losses=torch.empty(0), perm_state=self._gen.get_state(),
                kind=kind, epoch=epoch), f"after epoch {epoch}")

    def _controls(self, save: Callable[[str], None], where: str) -> None:
        """Honour checkpoint/stop/pause requests at a step boundary. A paused loop sleeps on
        an Event (no busy wait) and still answers checkpoint and stop requests."""
        paused_at = None
        while True:
            self._wake.clear()  # cleared before the checks, so a request made after them wakes us
            if self._ckpt_req:
                self._ckpt_req = False
                save("manual")
            if self._stop_req:
                if paused_at is not None:
                    self._paused_s += time.monotonic() - paused_at
                save("last")
                raise _Halt(STOPPED, f"stopped {where}; {LAST} saved in {self.run_dir}")
            if not self._pause_req:
                break
            if paused_at is None:
                paused_at = time.monotonic()
                self._set_state(PAUSED, where)
            self._wake.wait()
        if paused_at is not None:
            self._paused_s += time.monotonic() - paused_at
            self._set_state(TRAINING, "resumed")

    def _save_last(self, *, epochs_done: int, step: int, done_losses: torch.Tensor,
                   perm_state: torch.Tensor, kind: str, epoch: int) -> None:
        self._check_finite(done_losses, epoch)
        d, tr = self._data, self.settings.train
        ck = {
            "model": model_state(self._model),
            "optimizer": self._opt.state_dict(),
            "scheduler": self._sched.state_dict(),
            "epoch": epochs_done,      # completed epochs
            "step": step,              # completed steps of the next epoch (0 at a boundary)
            "partial_losses": done_losses.detach().cpu().clone(),
            "rng": {"torch": torch.get_rng_state(), "perm": perm_state},
            "best": dict(self._best),
            "meta": {"format": FORMAT, "feature_set": tr.feature_set, "run_id": self.run_id,
                     "model_config": model_config(self._model),
                     **self._data_meta(),
                     "epoch": epochs_done, "step": step, "seed": tr.seed, "rows_train": d.train.n,
                     "rows_val": d.val.n, "checksum": d.checksum, "elapsed_s": self._elapsed()},
        }
        path = atomic_torch_save(ck, self._folder.file(LAST))
        self._emit(CheckpointSaved(str(path), kind, epoch))

    def _check_finite(self, losses: torch.Tensor, epoch: int) -> None:
        """Refuse to go on (or save) once a loss or a weight is not finite."""
        bad = ~torch.isfinite(losses)
        if bool(bad.any()):
            first = int(bad.nonzero()[0, 0])
            what = "NaN" if math.isnan(float(losses[first])) else "inf"
            raise _Halt(FAILED, f"loss became {what} at epoch {epoch} step {first + 1}; {self._kept()}")
        if not all(bool(torch.isfinite(p).all()) for p in self._model.parameters()):
            raise _Halt(FAILED, f"weights became non-finite during epoch {epoch}; {self._kept()}")

    def _kept(self) -> str:
        last = self._folder.file(LAST)
        if last.is_file():
            return f"last good checkpoint kept at {last}"
        return "no checkpoint had been written yet"

    def _elapsed(self) -> float:
        return self._elapsed0 + time.monotonic() - self._t0 - self._paused_s

    # ---- state and events ---------------------------------------------------------------------

    def _emit(self, event: Event) -> None:
        if self._on_event is not None:
            self._on_event(event)

    def _set_state(self, state: str, reason: str = "") -> None:
        self._state = state
        self._heartbeat.mark()
        self._folder.update_state(state=state)
        self._emit(StateChanged(state, reason))

    def _end(self, state: str, message: str) -> RunEnded:
        self._state = state
        self._folder.update_state(state=state, message=message)
        self._emit(StateChanged(state, message))
        ended = RunEnded(state, message, dict(self._best))
        self._emit(ended)
        return ended

