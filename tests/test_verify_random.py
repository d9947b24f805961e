"""The default suite fails untrained models: three random-weight models pass at most half of
the counted evidence tests, and fewer than V22-gamma, with and without observations for the
skill group (found the way the default settings find them; the observations are the synthetic
spot fixture, so this runs on any clone)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from spots_fixtures import COMBINED

from engine.checkpoint import LoadedModel, load_model
from engine.evaluate.source import observation_source, skill_source
from engine.model import IonisGate
from engine.settings import Settings
from engine.verify import run_suite

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _random(seed: int) -> LoadedModel:
    torch.manual_seed(seed)
    m = IonisGate("v22").eval()
    return LoadedModel(m, m.feature_set, Path(f"random-{seed}"), "random")


def _settings(tmp_path, chdb_path=None, spots=None) -> Settings:
    s = Settings()
    s.database.path = chdb_path or str(tmp_path / "no-database-yet" / "ionis.chdb")
    s.database.database = "verify_random"
    if spots:
        s.evaluate.spots = str(spots)
    return s


def test_without_observations_the_skill_group_says_why_in_the_summary(tmp_path, v22_file):
    s = _settings(tmp_path)
    chosen, why = observation_source(s)
    assert chosen is None and why == "no observations: no database yet, no spot file (settings [evaluate] spots)"
    assert not (tmp_path / "no-database-yet").exists()  # looking never creates a database
    rep = run_suite(load_model(v22_file), skill=skill_source(s))
    line = rep.summary_line()
    assert f"skill n/a ({why})" in line
    assert line.startswith(f"passed {rep.passed} of {rep.passed + rep.failed} counted (6 by construction, not "
                           f"counted; 18 judged by a group verdict)")


@pytest.mark.slow  # 4 models x the whole suite
@pytest.mark.parametrize("with_spots", [False, True])
def test_random_models_pass_at_most_half_and_fewer_than_v22(tmp_path, chdb_path, v22_file, with_spots):
    s = _settings(tmp_path, chdb_path, COMBINED if with_spots else None)
    skill = skill_source(s)
    assert isinstance(skill, str) is not with_spots, skill
    v22 = run_suite(load_model(v22_file), skill=skill)
    for seed in (0, 1, 2):
        rep = run_suite(_random(seed), skill=skill)
        counted = rep.passed + rep.failed
        assert counted == v22.passed + v22.failed and counted >= 25
        assert rep.passed <= counted / 2, rep.summary_line()
        assert rep.passed < v22.passed, (rep.summary_line(), v22.summary_line())
        paths = [r for r in rep.results if r.group == "paths"]
        assert paths and all(r.status == "fail" for r in paths)  # no absolute floor left to clear
        if with_spots:  # the overall skill is the one a random model cannot fake
            assert next(r for r in rep.results if r.id == "SKILL-A").status == "fail"


def test_the_ingested_spots_table_comes_before_the_spot_file(tmp_path, chdb_path):
    from engine.data.client import connect
    from engine.data.ingest import ensure_spots_table

    s = _settings(tmp_path, chdb_path, spots="some.csv")
    s.ingest.spots_table = "spots_for_skill"
    client = connect(s.database)
    client.command(f"DROP TABLE IF EXISTS `{s.database.database}`.`spots_for_skill`")
    assert observation_source(s) == ({"spots": "some.csv"}, "spot file some.csv ([evaluate] spots)")
    qualified = ensure_spots_table(client, s.database, "spots_for_skill")
    assert observation_source(s)[0] == {"spots": "some.csv"}  # an empty table is no source
    client.command(f"INSERT INTO {qualified} (time) VALUES (now())")
    assert observation_source(s) == ({"table": "verify_random.spots_for_skill"},
                                     "ingested spots verify_random.spots_for_skill")
    s.evaluate.table = "my_signatures"  # named in settings: it wins
    assert observation_source(s)[0] == {"table": "my_signatures"}
    s.evaluate.spots = s.evaluate.table = ""
    client.command(f"TRUNCATE TABLE {qualified}")
    chosen, why = observation_source(s)
    assert chosen is None and "spots table verify_random.spots_for_skill is empty" in why
