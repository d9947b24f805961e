"""Issue 22: the recipe's experiment knobs live in [train.experimental], each non-default path
trains, validation scores mean the same whatever the training loss, and old settings (files and
earlier runs' settings.json, with lr_scaler and the knobs in [train]) still load and resume."""

from __future__ import annotations

import json

import pytest
import torch

from engine.errors import SettingsError
from engine.settings import Settings, TrainSettings, load_settings
from engine.train import events as ev
from engine.train.runs import read_metrics
from engine.train.session import TrainingSession
from engine.train.synthetic import synthetic_rows

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]  # some train

OLD_TRAIN = {"lr_scaler": 2e-4, "lr_sun_scaler": 2e-3, "storm_weight": 3.0, "censor_spread_db": 0.0,
             "sidecar_init_weight": 0.6, "sun_gate_within_cell": False}


def make_settings(tmp_path, epochs: int = 2, **experimental) -> Settings:
    return Settings(train={"device": "cpu", "batch_size": 256, "epochs": epochs, "progress_interval": 60.0,
                           "experimental": experimental}, runs={"dir": str(tmp_path / "runs")})


@pytest.fixture(scope="module")
def rows():
    return synthetic_rows(3000, seed=1)


@pytest.fixture(scope="module")
def default_run(tmp_path_factory, rows):
    sess = TrainingSession(make_settings(tmp_path_factory.mktemp("default")), rows=rows)
    assert sess.run().state == ev.FINISHED
    return sess.run_dir


def test_old_train_keys_load_into_their_new_places(tmp_path):
    cfg = tmp_path / "old.toml"
    cfg.write_text("[train]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in OLD_TRAIN.items()))
    tr = load_settings(cfg).train
    assert tr.lr_storm_scaler == 2e-4
    ex = tr.experimental
    assert (ex.lr_sun_scaler, ex.storm_weight, ex.censor_spread_db, ex.sidecar_init_weight,
            ex.sun_gate_within_cell) == (2e-3, 3.0, 0.0, 0.6, False)
    assert "lr_scaler" not in TrainSettings.model_fields and "storm_weight" not in TrainSettings.model_fields


@pytest.mark.parametrize("text,needle", [
    ("[train]\nlr_scaler = 1e-4\nlr_storm_scaler = 2e-4\n", "'lr_scaler' is the old name of 'lr_storm_scaler'"),
    ("[train]\nstorm_weight = 2.0\n[train.experimental]\nstorm_weight = 3.0\n",
     "'storm_weight' is set both in [train] (its old place) and in [train.experimental]"),
    ("[train.experimental]\nstorm_weight = -1\n", "train.experimental.storm_weight"),
    ("[train.experimental]\nno_such = 1\n", "unknown key 'train.experimental.no_such'"),
])
def test_bad_or_doubled_keys_are_clear_errors(tmp_path, text, needle):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    with pytest.raises(SettingsError) as info:
        load_settings(cfg)
    assert needle in str(info.value)


def test_experimental_keys_from_file_and_environment(tmp_path, monkeypatch):
    cfg = tmp_path / "s.toml"
    cfg.write_text("[train.experimental]\nstorm_weight = 3.0\n")
    monkeypatch.setenv("IONIS_TRAIN__EXPERIMENTAL__CENSOR_SPREAD_DB", "0")
    ex = load_settings(cfg).train.experimental
    assert ex.storm_weight == 3.0 and ex.censor_spread_db == 0.0 and ex.sidecar_init_weight == 0.65


def test_validation_scores_are_the_plain_output_whatever_the_training_loss(rows):
    """val RMSE in dB means the same for every run: only val_objective follows the training loss."""
    from engine.features import V22
    from engine.model import IonisGate
    from engine.train.metrics import evaluate
    from engine.train.physics_recipe import init_sidecars
    from engine.train.prepare import prepare
    from engine.train.recipe import compared

    torch.manual_seed(0)
    model = IonisGate("v22")
    init_sidecars(model, 0.65, seed=0, sun_weight=0.8)
    val = prepare(rows, V22, torch.device("cpu")).val
    scores = {}
    for spread in (0.0, 8.5, 20.0):
        tr = TrainSettings(experimental={"censor_spread_db": spread})
        scores[spread] = evaluate(model, val, tr.huber_delta, lambda out, x, tr=tr: compared(out, x, tr))
    plain = evaluate(model, val, 1.0)
    same = ("val_loss", "val_rmse_sigma", "val_rmse_db", "val_pearson")
    for s in scores.values():
        assert {k: s[k] for k in same} == {k: plain[k] for k in same}
    assert scores[0.0]["val_objective"] == plain["val_loss"] == plain["val_objective"]
    assert len({s["val_objective"] for s in scores.values()}) == 3  # the training loss differs


@pytest.mark.parametrize("knob,value", [("censor_spread_db", 0.0), ("sun_gate_within_cell", False),
                                        ("storm_weight", 3.0)])
def test_each_non_default_path_trains(tmp_path, rows, default_run, knob, value):
    """Training with censoring off, the sun gate learning from all of the output, and storm
    rows upsampled: each finishes, changes what is trained, and is scored on the same scale."""
    sess = TrainingSession(make_settings(tmp_path, **{knob: value}), rows=rows)
    end = sess.run()
    assert end.state == ev.FINISHED, end.message
    saved = json.loads((sess.run_dir / "settings.json").read_text())
    assert saved["train"]["experimental"][knob] == value
    lines, base = read_metrics(sess.run_dir), read_metrics(default_run)
    assert len(lines) == 2 and all(m["val_rmse_db"] is not None for m in lines)
    if knob == "censor_spread_db":  # the training loss is the plain one
        assert all(m["val_objective"] == m["val_loss"] for m in lines)
        assert all(m["val_objective"] != m["val_loss"] for m in base)
    got = torch.load(str(sess.run_dir / "last.pt"), weights_only=True)["model"]
    ref = torch.load(str(default_run / "last.pt"), weights_only=True)["model"]
    if knob == "sun_gate_within_cell":
        # The forward pass is the same; what reaches the sun gate head differs.
        assert not torch.equal(got["sun_scaler_head.2.weight"], ref["sun_scaler_head.2.weight"])
    else:
        assert lines[0]["train_loss"] != base[0]["train_loss"]


def test_a_run_saved_with_the_old_keys_resumes(tmp_path, rows):
    """A run folder from before issue 22: settings.json with lr_scaler and the experiment knobs
    in [train], last.pt whose storm gate head group is named "scaler" and whose best has no
    val_objective. It resumes with its own recipe and logs the new keys."""
    first = TrainingSession(make_settings(tmp_path, epochs=1), rows=rows)
    assert first.run().state == ev.FINISHED
    run = first.run_dir
    saved = json.loads((run / "settings.json").read_text())
    ex = saved["train"].pop("experimental")
    saved["train"] |= {**ex, "lr_scaler": saved["train"].pop("lr_storm_scaler"), "storm_weight": 2.0}
    (run / "settings.json").write_text(json.dumps(saved))
    ck = torch.load(str(run / "last.pt"), weights_only=True)
    names = [g["name"] for g in ck["optimizer"]["param_groups"]]
    ck["optimizer"]["param_groups"][names.index("storm_scaler")]["name"] = "scaler"
    ck["best"].pop("val_objective")
    torch.save(ck, str(run / "last.pt"))

    events: list = []
    again = TrainingSession(make_settings(tmp_path, epochs=2), rows=rows, resume=run, on_event=events.append)
    end = again.run()
    assert end.state == ev.FINISHED, end.message
    assert again.settings.train.experimental.storm_weight == 2.0  # the run's own recipe
    notes = [e.text for e in events if isinstance(e, ev.Notice)]
    assert any("ignoring changed settings: experimental.storm_weight" in n for n in notes), notes
    last = read_metrics(run)[-1]
    assert last["epoch"] == 2 and last["lr_storm_scaler"] > 0 and "lr_scaler" not in last
    assert last["val_objective"] is not None
