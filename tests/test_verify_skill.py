"""Verification that can fail: the skill group on real spots, known open/dead paths, tests that
hold by construction, and random models against a model trained on demo data. The skill
plumbing runs on the synthetic spot fixture (any clone); V22's verdicts on the real file of
../shared are pinned by one test, skipped without it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from spots_fixtures import COMBINED

from engine.checkpoint import LoadedModel, load_model
from engine.evaluate.observations import load_observations
from engine.evaluate.run import evaluate
from engine.model import IonisGate
from engine.settings import DatabaseSettings, Settings
from engine.verify import load_specs, run_suite, select
from engine.verify.kinds import KINDS
from engine.verify.spec import MODEL_GROUPS
from tests.conftest import REAL_SPOTS

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ARCHITECTURE = {"TST-201", "TST-202", "TST-205", "TST-301", "TST-305", "TST-306"}


def _observations(chdb_path: str, spots: Path):
    s = Settings()
    s.database = DatabaseSettings(path=chdb_path, database="h19a_skill")
    return load_observations(s, spots=spots)


@pytest.fixture(scope="module")
def real_obs(chdb_path):
    if not REAL_SPOTS.is_file():
        pytest.skip(f"real spot file not found at {REAL_SPOTS} (shared/ must sit beside the repo)")
    return _observations(chdb_path, REAL_SPOTS)


@pytest.fixture(scope="module")
def fixture_obs(chdb_path):
    """The synthetic spots: 20m and 30m graded (>= 100 spots each), the other bands n/a."""
    return _observations(chdb_path, COMBINED)


def _source(obs, clim="no training table in this test"):
    return lambda lm: evaluate(lm, obs, clim, levels=("spots",))


def _random(seed: int) -> LoadedModel:
    torch.manual_seed(seed)
    m = IonisGate("v22").eval()
    return LoadedModel(m, m.feature_set, Path(f"random-{seed}"), "random")


def _by_id(rep):
    return {r.id: r for r in rep.results}


def test_labels_architecture_and_original():
    specs = load_specs()
    assert {s.id for s in specs if s.architecture} == ARCHITECTURE
    # The peer's own tests (TST-200/300 of its reference table, TST-900 and KI7MT of ionis-validate).
    assert all(s.original == s.id.startswith(("TST-", "KI7MT-")) for s in specs)
    assert {"paths", "skill"} <= {s.group for s in specs}


def test_skill_is_na_with_a_reason_without_a_source(v22_file):
    rep = run_suite(load_model(v22_file), select(load_specs(), ["skill"]))
    assert rep.results and all(r.status == "n/a" for r in rep.results)
    assert "no real-spot source configured" in rep.results[0].explanation


def test_v22_ties_the_band_mean_so_skill_fails(v22_file, real_obs):
    rep = run_suite(load_model(v22_file), select(load_specs(), ["skill"]), skill=_source(real_obs))
    r = _by_id(rep)
    # r +0.07, RMSE 9.02 against the band mean's 8.93 on the 13,271 spots the build's filters keep
    assert r["SKILL-A"].status == "fail" and -0.05 < r["SKILL-A"].value < 0.01
    assert r["SKILL-B"].status == "n/a" and "no training table" in r["SKILL-B"].explanation
    assert r["SKILL-40m"].status == "pass" and r["SKILL-30m"].status == "fail"  # per band, both ways
    assert r["SKILL-160m"].status == "n/a"  # no 160m spots in the file


def test_skill_passes_for_a_model_that_explains_the_observations(v22_file, fixture_obs):
    """Observations the model itself predicts (plus noise): it must beat the baselines; the
    same model on observations it does not explain (the fixture's own SNRs) does not."""
    from dataclasses import replace

    lm = load_model(v22_file)
    pred = evaluate(lm, fixture_obs, "none", levels=("spots",)).levels["spots"].pred
    noise = np.random.default_rng(0).normal(0, 1.0, pred.shape).astype(np.float32)
    obs = replace(fixture_obs, snr=pred + noise)
    r = _by_id(run_suite(lm, select(load_specs(), ["skill"]), skill=_source(obs)))
    assert r["SKILL-A"].status == "pass" and r["SKILL-A"].value > 0.5
    assert r["SKILL-20m"].status == r["SKILL-30m"].status == "pass"
    assert r["SKILL-40m"].status == "n/a" and "only" in r["SKILL-40m"].explanation  # < 100 spots
    assert r["SKILL-B"].status == "n/a" and "no training table" in r["SKILL-B"].explanation
    shuffled = replace(obs, snr=np.random.default_rng(1).permutation(obs.snr))
    r = _by_id(run_suite(lm, select(load_specs(), ["skill"]), skill=_source(shuffled)))
    assert r["SKILL-A"].status == "fail"


def test_known_paths_compare_each_path_with_its_closed_counterpart(v22_file):
    r = _by_id(run_suite(load_model(v22_file), select(load_specs(), ["paths"])))
    assert {i for i in range(1, 8) if r[f"PATH-{i}"].status == "pass"} == {1, 3, 4, 5, 6}
    # Trained on heard spots only, V22 gives 160m at summer noon more than at night (-1.3 dB), and
    # a sunlit 160m path as much as a dark one.
    assert r["PATH-2"].status == "fail" and r["PATH-2"].value_db < 0
    assert r["PATH-7"].status == "fail" and abs(r["PATH-7"].value_db) < 0.5
    assert {s.kind for s in load_specs() if s.group == "paths"} == {"hour_diff", "path_vs"}


@pytest.fixture(scope="module")
def demo_model(chdb_path, tmp_path_factory):
    """A V22-architecture model trained briefly on demo data, through the project's own path:
    demo seed into chdb, the loader, a TrainingSession."""
    from engine.data.client import connect
    from engine.data.loader import load_rows
    from engine.demo.seed import seed_demo
    from engine.train.session import TrainingSession

    s = Settings()
    s.database = DatabaseSettings(path=chdb_path, table="verify_skill_demo")
    client = connect(s.database)
    seed_demo(client, s.database, 60_000, 7)
    rows = load_rows(client, s.database, seed=42, val_fraction=0.2)
    s.runs.dir = str(tmp_path_factory.mktemp("runs"))
    # 10 epochs: at 6 the model passed only one model check more than the best random model
    # (12 vs 11 on main) and tied with it once buckets were split by SFI class too (11 vs 11).
    s.train.epochs, s.train.batch_size, s.train.device = 10, 1024, "cpu"
    from engine.train.data_identity import DataIdentity

    session = TrainingSession(s, rows=rows, data_source="demo",
                              data=DataIdentity("wspr.t", "demo", len(rows)))
    assert session.run().state == "finished"
    return load_model(session.run_dir / "best.safetensors")


def test_random_models_fail_the_model_groups_and_demo_training_passes_more(fixture_obs, demo_model):
    specs = select(load_specs(), ["model"])
    assert {s.group for s in specs} == set(MODEL_GROUPS)
    randoms = [run_suite(_random(seed), specs, skill=_source(fixture_obs)) for seed in (0, 1, 2)]
    for rep in randoms:
        assert not rep.all_passed
        failing = {r.group for r in rep.results if r.status == "fail"}
        assert {"band_time", "paths", "skill"} <= failing, rep.summary_line()
    demo = run_suite(demo_model, specs, skill=_source(fixture_obs))
    assert demo.passed > max(rep.passed for rep in randoms), (demo.summary_line(),
                                                             [r.summary_line() for r in randoms])


def test_a_label_that_is_not_true_or_false_is_refused():
    from engine.errors import InputError
    from engine.verify.spec import parse_specs

    t = {"id": "X", "name": "x", "group": "paths", "kind": "path_snr", "unit": "db", "pass": "> -28",
         "tx": "W3", "rx": "G", "band": "20m", "hour": 12, "month": 6, "sfi": 100, "kp": 2,
         "architecture": "yes"}
    with pytest.raises(InputError, match="architecture must be true or false"):
        parse_specs({"test": [t]}, kinds=KINDS)
    t["architecture"] = True
    assert parse_specs({"test": [t]}, kinds=KINDS)[0].architecture
