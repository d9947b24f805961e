"""The run's control channel and lock, with real trainer processes: `ionis-tui train --headless`
started detached, controlled through `ionis-tui runs pause|resume|checkpoint|stop`, a second
trainer refused, a stale lock taken over, a killed trainer shown as interrupted."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from engine.cli import main
from engine.errors import InputError
from engine.train import events as ev
from engine.train.control import EventReader, decode, encode
from engine.train.lock import LOCK, RunLock
from engine.train.runs import INTERRUPTED, run_info
from engine.train.synthetic import synthetic_rows


def trainer_env(tmp_path: Path, epochs: int = 500) -> dict[str, str]:
    return {**os.environ, "IONIS_RUNS__DIR": str(tmp_path / "runs"), "IONIS_TRAIN__EPOCHS": str(epochs),
            "IONIS_TRAIN__BATCH_SIZE": "256", "IONIS_TRAIN__DEVICE": "cpu",
            "IONIS_TRAIN__PROGRESS_INTERVAL": "0.05", "OMP_NUM_THREADS": "1"}


def start_trainer(tmp_path: Path, *args: str, epochs: int = 500) -> subprocess.Popen:
    rows = tmp_path / "rows.npy"
    if not rows.exists():
        np.save(rows, synthetic_rows(1500, seed=3).array)
    log = open(tmp_path / f"trainer-{time.monotonic_ns()}.log", "w")
    return subprocess.Popen([sys.executable, "-m", "ionis_tui", "train", "--headless", "--rows-file",
                             str(rows), *args], cwd=tmp_path, env=trainer_env(tmp_path, epochs),
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_for(predicate, timeout: float = 60.0, what: str = "condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = predicate()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def epochs_done(run_dir: Path) -> int:
    info = run_info(run_dir)
    return info.epochs_done if info else 0


@pytest.fixture
def live_run(tmp_path, monkeypatch):
    """A headless trainer in its own session, trained past epoch 1; killed at the end."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("IONIS_RUNS__DIR", str(tmp_path / "runs"))
    run_dir = tmp_path / "runs" / "r1"
    proc = start_trainer(tmp_path, "--run-dir", str(run_dir))
    wait_for(lambda: epochs_done(run_dir) >= 1, what="epoch 1")
    yield proc, run_dir
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def test_every_event_survives_the_line_format():
    events = [ev.StateChanged("paused", "after epoch 2"), ev.LoadProgress(5, 10),
              ev.RunStarted("r", "/x", "cpu", 10, 2, 3, 1, 99, "src"), ev.StepProgress(1, 2, 3, 0.5, 10.0, 1.5),
              ev.EpochEnd({"epoch": 1, "val_loss": None}), ev.CheckpointSaved("/x/last.pt", "manual", 2),
              ev.Notice("warning", "w"), ev.RunEnded("stopped", "m", {"epoch": 1})]
    assert [decode(encode(e)) for e in events] == events
    assert decode('{"type": "Bogus"}') is None and decode('{"type": "Notice", "lev') is None


def test_reader_returns_whole_lines_only_and_restarts_on_a_new_feed(tmp_path):
    path = tmp_path / "events.jsonl"
    line = encode(ev.Notice("info", "one"))
    path.write_text(line + line[:10])
    r = EventReader(tmp_path)
    assert r.read() == [ev.Notice("info", "one")]
    path.write_text(line + line)  # the torn line was completed
    assert r.read() == [ev.Notice("info", "one")]
    path.write_text(encode(ev.Notice("info", "new")))  # a new trainer truncated the feed
    assert r.read() == [ev.Notice("info", "new")] and r.restarted


def test_commands_carry_an_expiry_and_can_be_withdrawn(tmp_path):
    from engine.train.control import expired, send, withdraw

    sent = send(tmp_path, "pause", ttl_s=5)
    now = time.time()
    assert not expired(sent, now) and expired(sent, now + 6)
    assert withdraw(sent) and not sent.exists() and not withdraw(sent)  # the second time: already gone
    old_style = tmp_path / "control" / "1-2-stop"
    old_style.write_text("stop\n")  # written by an older sender: no expiry, never void
    assert not expired(old_style, now + 1e9)


def test_second_lock_is_refused_naming_pid_and_host(tmp_path):
    first = RunLock.acquire(tmp_path)
    with pytest.raises(InputError) as err:
        RunLock.acquire(tmp_path)
    assert f"in use by trainer pid {os.getpid()} on host {socket.gethostname()}" in str(err.value)
    first.release()
    again = RunLock.acquire(tmp_path)  # a clean release: no stale note
    assert again.note == ""
    again.release()


def test_stale_lock_of_a_killed_process_is_taken_over(tmp_path):
    code = ("import os, signal, sys; from engine.train.lock import RunLock; "
            "held = RunLock.acquire(sys.argv[1]); os.kill(os.getpid(), signal.SIGKILL)")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)])
    assert proc.returncode == -signal.SIGKILL
    held = json.loads((tmp_path / LOCK).read_text())
    lock = RunLock.acquire(tmp_path)
    assert lock.note.startswith(f"took over the stale lock of trainer pid {held['pid']} on host")
    lock.release()


def test_runs_cli_pauses_checkpoints_resumes_and_stops_a_detached_trainer(live_run, capsys):
    proc, run_dir = live_run
    assert main(["runs", "pause", "r1"]) == 0
    assert "paused" in capsys.readouterr().out
    assert run_info(run_dir).state == ev.PAUSED
    done = epochs_done(run_dir)
    time.sleep(0.5)
    assert epochs_done(run_dir) == done  # paused means no training
    assert main(["runs", "checkpoint", "r1"]) == 0
    assert "checkpoint saved" in capsys.readouterr().out
    assert main(["runs", "resume", "r1"]) == 0
    assert "training (resumed)" in capsys.readouterr().out
    wait_for(lambda: epochs_done(run_dir) > done, what="training again")
    assert main(["runs", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed[0]["run_id"] == "r1" and listed[0]["pid"] == proc.pid
    assert listed[0]["state"] in (ev.TRAINING, ev.PAUSED)
    assert main(["runs", "stop", "r1"]) == 0
    assert "stopped" in capsys.readouterr().out
    assert proc.wait(30) == 130
    assert run_info(run_dir).state == ev.STOPPED and run_info(run_dir).resumable
    assert main(["runs", "pause", "r1"]) == 2  # not running any more
    assert "is not running (state: stopped)" in capsys.readouterr().err
    assert main(["runs", "attach", "no-such-run"]) == 2
    assert "'no-such-run' is not a run under" in capsys.readouterr().err


def test_second_trainer_on_a_live_folder_is_refused(live_run, tmp_path):
    proc, run_dir = live_run
    second = subprocess.run([sys.executable, "-m", "ionis_tui", "train", "--resume", str(run_dir),
                             "--rows-file", str(tmp_path / "rows.npy")], cwd=tmp_path,
                            env=trainer_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert second.returncode == 2
    assert f"in use by trainer pid {proc.pid} on host {socket.gethostname()}" in second.stderr
    assert proc.poll() is None and run_info(run_dir).state in (ev.TRAINING, ev.PAUSED)


def test_killed_trainer_shows_as_interrupted_and_resumes_taking_over_its_lock(live_run, tmp_path, capsys):
    proc, run_dir = live_run
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    info = run_info(run_dir)
    assert info.state == INTERRUPTED and info.resumable and info.epochs_done >= 1
    assert main(["runs"]) == 0
    assert "interrupted" in capsys.readouterr().out
    resumed = start_trainer(tmp_path, "--resume", str(run_dir), epochs=info.epochs_done + 1)
    assert resumed.wait(300) == 0  # generous: a loaded shared CPU
    feed = [e for e in EventReader(run_dir).read() if isinstance(e, ev.Notice)]
    assert any(e.text.startswith(f"took over the stale lock of trainer pid {proc.pid}") for e in feed)


def test_a_reused_pid_does_not_keep_a_dead_run_live(tmp_path):
    """state.json names a live pid (here: this process), but nobody holds the run's lock."""
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    (run_dir / "state.json").write_text(json.dumps({"state": "training", "pid": os.getpid(),
                                                    "host": socket.gethostname()}))
    (run_dir / LOCK).write_text(json.dumps({"pid": 1, "host": socket.gethostname()}))
    assert run_info(run_dir).state == INTERRUPTED
    held = RunLock.acquire(run_dir)  # and while a trainer holds it, the run is live
    assert run_info(run_dir).state == ev.TRAINING
    held.release()


# ---------------------------------------------------------------- signals, stalls, faults (issue 21)

def test_nohup_keeps_the_trainer_running_through_sighup(tmp_path, monkeypatch):
    """`nohup ionis-tui train --headless &`: nohup ignores SIGHUP, so the trainer must not
    install its stop-on-SIGHUP handler over it (it did, and stopped)."""
    import shutil

    nohup = shutil.which("nohup")
    if nohup is None:
        pytest.skip("no nohup program on this system")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("IONIS_RUNS__DIR", str(tmp_path / "runs"))
    rows = tmp_path / "rows.npy"
    np.save(rows, synthetic_rows(1500, seed=3).array)
    run_dir = tmp_path / "runs" / "r1"
    proc = subprocess.Popen([nohup, sys.executable, "-m", "ionis_tui", "train", "--headless", "--rows-file",
                             str(rows), "--run-dir", str(run_dir)], cwd=tmp_path, env=trainer_env(tmp_path),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        wait_for(lambda: epochs_done(run_dir) >= 1, what="epoch 1")
        proc.send_signal(signal.SIGHUP)
        done = epochs_done(run_dir)
        wait_for(lambda: epochs_done(run_dir) > done + 1, what="training on after SIGHUP")
        assert proc.poll() is None and run_info(run_dir).state == ev.TRAINING
        assert main(["runs", "stop", "r1"]) == 0
        assert proc.wait(30) == 130  # stopped by the command, not by the hangup (129)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_a_frozen_trainer_shows_as_stalled_and_a_timed_out_command_is_never_carried_out(
        tmp_path, monkeypatch, capsys):
    from engine.train.control import CONTROL, send
    from engine.train.runs import STALLED

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("IONIS_RUNS__DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("IONIS_RUNS__STALL_AFTER_S", "1.5")
    run_dir = tmp_path / "runs" / "r1"
    proc = start_trainer(tmp_path, "--run-dir", str(run_dir))
    try:
        wait_for(lambda: epochs_done(run_dir) >= 1, what="epoch 1")
        proc.send_signal(signal.SIGSTOP)  # alive, holding its lock, making no progress
        wait_for(lambda: run_info(run_dir).state == STALLED, timeout=20, what="stalled")
        assert main(["runs"]) == 0
        assert "stalled" in capsys.readouterr().out
        # The command times out and is withdrawn: nothing is left for the trainer to find.
        assert main(["runs", "pause", "r1", "--wait", "1"]) == 1
        assert "withdrawn" in capsys.readouterr().err
        assert not [p for p in (run_dir / CONTROL).iterdir() if not p.name.startswith(".")]
        # A command whose sender gave up without withdrawing it (killed) expires instead.
        send(run_dir, "pause", ttl_s=0.5)
        time.sleep(1.0)
        offset = EventReader(run_dir).size()
        proc.send_signal(signal.SIGCONT)
        wait_for(lambda: run_info(run_dir).state == ev.TRAINING, timeout=20, what="training again")
        done = epochs_done(run_dir)
        wait_for(lambda: epochs_done(run_dir) > done, what="an epoch after SIGCONT")
        later = EventReader(run_dir, offset).read()
        assert not [e for e in later if isinstance(e, ev.StateChanged) and e.state == ev.PAUSED]
        assert any(isinstance(e, ev.Notice) and "command pause ignored: it expired" in e.text for e in later)
        assert run_info(run_dir).state == ev.TRAINING
    finally:
        proc.send_signal(signal.SIGCONT)
        proc.kill()
        proc.wait()


@pytest.fixture
def small_disk(tmp_path):
    """A real 8 MiB file system (tmpfs), so a trainer writing to it meets a real ENOSPC."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs for a real full disk needs root")
    got = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)],
                         capture_output=True, text=True)
    if got.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {got.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_full_disk_marks_the_run_failed_naming_path_and_reason(tmp_path, small_disk, monkeypatch, capsys):
    monkeypatch.setenv("IONIS_RUNS__DIR", str(small_disk))
    run_dir = small_disk / "r1"
    proc = start_trainer(tmp_path, "--run-dir", str(run_dir))
    try:
        wait_for(lambda: (run_dir / "metrics.jsonl").is_file(), what="epoch 1")
        with open(small_disk / "filler", "wb", buffering=0) as fh:  # fill the disk to the last block
            try:
                while True:
                    fh.write(b"\0" * 65536)
                    fh.flush()
            except OSError:
                pass
        code = proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = "".join(p.read_text() for p in tmp_path.glob("trainer-*.log"))
    assert code in (1, 2), log  # a failed run (1), or one the fault ended in its error path (2)
    state = json.loads((run_dir / "state.json").read_text())
    assert state["state"] == ev.FAILED, (state, log)
    assert f"cannot use {run_dir}" in state["message"] and "the disk is full" in state["message"]
    assert "(unknown path)" not in state["message"]
    assert run_info(run_dir).state == ev.FAILED
    assert main(["runs"]) == 0
    assert re.search(r"^r1\s+failed\s", capsys.readouterr().out, re.M)


def test_the_state_rule_calls_a_live_run_stalled_once_its_heartbeat_is_older_than_its_limit(tmp_path):
    from engine.train.heartbeat import HEARTBEAT
    from engine.train.runs import STALLED

    run_dir = tmp_path / "r"
    run_dir.mkdir()
    (run_dir / "state.json").write_text(json.dumps({"state": "training", "pid": os.getpid(),
                                                    "host": socket.gethostname(), "stall_after_s": 30}))
    held = RunLock.acquire(run_dir)
    try:
        assert run_info(run_dir).state == ev.TRAINING  # no heartbeat file (an older run): no judgement
        beat = run_dir / HEARTBEAT
        beat.touch()
        os.utime(beat, (time.time() - 20, time.time() - 20))
        assert run_info(run_dir).state == ev.TRAINING
        os.utime(beat, (time.time() - 40, time.time() - 40))
        info = run_info(run_dir)
        assert info.state == STALLED and not info.resumable  # its trainer still holds the folder
    finally:
        held.release()
    assert run_info(run_dir).state == INTERRUPTED  # and once the process is gone, it is that
