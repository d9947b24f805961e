"""Verification suite definitions: rules, the shipped test file, and refusal of bad files."""

import math
import tomllib

import pytest

from engine.errors import InputError
from engine.verify.kinds import KINDS
from engine.verify.rules import grade_for, parse_rule
from engine.verify.spec import GROUPS, default_path, load_specs, parse_specs, select


def test_rules_parse_and_judge():
    assert parse_rule("> 0").holds(0.1) and not parse_rule("> 0").holds(0.0)
    assert parse_rule(">= -0.5").holds(-0.5) and not parse_rule(">=-0.5").holds(-0.51)
    assert parse_rule("abs < 5").holds(-4.9) and not parse_rule("abs < 5").holds(-5.0)
    assert parse_rule("== 0").holds(0.0) and not parse_rule("== 0").holds(1.0)
    day = parse_rule("in 10..16")
    assert day.holds(10) and day.holds(16) and not day.holds(9) and not day.holds(17)
    night = parse_rule("in 22..6")  # wraps midnight
    assert night.holds(23) and night.holds(0) and night.holds(6) and not night.holds(7) and not night.holds(21)
    for rule in ("> 0", "<= 1", "in 0..1"):
        assert not parse_rule(rule).holds(math.nan) and not parse_rule(rule).holds(None)


@pytest.mark.parametrize("bad", ["", "positive", "=> 3", "> x", "in 3", "abs in 1..2"])
def test_bad_rules_are_refused(bad):
    with pytest.raises(InputError, match="cannot read rule"):
        parse_rule(bad)


def test_grades_first_match_else_f():
    g = tuple(parse_rule(r) for r in (">= 3", ">= 2", ">= 1", "> 0"))
    assert [grade_for(v, g) for v in (3.0, 2.5, 1.0, 0.01, 0.0, -1.0, math.nan)] == list("ABCDFFF")


def test_shipped_file_has_every_required_test():
    specs = load_specs(kinds=KINDS)
    ids = [s.id for s in specs]
    assert len(ids) == len(set(ids))
    required = {f"TST-{n}" for n in (201, 202, 203, 204, 205, 206)} | {f"TST-{n}" for n in range(901, 911)}
    required |= {"TST-901b", "SIDECAR-SUN", "SIDECAR-STORM", "TRUTH-SUN", "TRUTH-STORM"}
    assert required <= set(ids)
    assert {s.group for s in specs} == set(GROUPS)
    kinds = {s.kind for s in specs if s.group == "robustness"}
    assert {"determinism", "smoothness", "sweep_jump", "band_range", "monotonic_grid", "input_validation"} <= kinds
    physics = [s for s in specs if s.group == "physics"]
    assert all(len(s.grades) == 4 for s in physics)  # graded A-F
    assert default_path().is_file() and default_path().parent.name == "verify"  # ships in the package


def _one(**test):
    base = {"id": "X-1", "name": "x", "group": "physics", "kind": "delta_sfi", "unit": "db",
            "pass": "> 0", "sfi": [70, 200]}
    return {"defaults": {"tx": "W3", "rx": "G", "band": "20m", "hour": 14, "month": 6, "kp": 2},
            "test": [{**base, **test}]}


@pytest.mark.parametrize("change, message", [
    ({"kind": "delta_moon"}, "unknown kind 'delta_moon'"),
    ({"group": "astrology"}, "unknown group 'astrology'"),
    ({"unit": "furlong"}, "unknown unit"),
    ({"sfl": [70, 200]}, "sfl"),                     # a typo never silently changes a test
    ({"pass": None}, "cannot read rule"),
    ({"grades": [">= 1", "> 0"]}, "grades must list 4"),
    ({"id": ""}, "missing or empty 'id'"),
])
def test_bad_test_entries_name_the_test_and_key(change, message):
    data = _one(**change)
    if change.get("pass", 0) is None:
        data["test"][0]["pass"] = "positive"
    with pytest.raises(InputError, match=message):
        parse_specs(data, "custom.toml", kinds=KINDS)


def test_missing_pass_unknown_path_set_and_duplicate_ids():
    data = _one()
    del data["test"][0]["pass"]
    with pytest.raises(InputError, match="X-1.*missing 'pass'"):
        parse_specs(data, kinds=KINDS)
    data = {"test": [{"id": "R", "name": "r", "group": "robustness", "kind": "sweep_jump", "unit": "sigma",
                      "pass": "< 0.5", "paths": "nowhere"}]}
    with pytest.raises(InputError, match="unknown path set 'nowhere'"):
        parse_specs(data, kinds=KINDS)
    data = _one()
    data["test"].append(dict(data["test"][0]))
    with pytest.raises(InputError, match="duplicate id"):
        parse_specs(data, kinds=KINDS)


def test_bad_files(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_specs(tmp_path / "none.toml", kinds=KINDS)
    f = tmp_path / "broken.toml"
    f.write_text("[[test]\nid = 1")
    with pytest.raises(InputError, match="not valid TOML"):
        load_specs(f, kinds=KINDS)


def test_defaults_fill_conditions_and_tests_override_them():
    data = tomllib.loads(default_path().read_text(encoding="utf-8"))
    specs = {s.id: s for s in parse_specs(data, kinds=KINDS)}
    assert specs["TST-201"].conditions["tx"] == "W3" and specs["TST-201"].conditions["sfi"] == [70, 200]
    assert specs["TST-901"].conditions["month"] == 12 and specs["TST-901"].conditions["band"] == "10m"
    paths = specs["TST-305"].conditions["paths"]
    assert len(paths) >= 10 and all({"tx", "rx", "band", "hour", "month", "sfi", "kp"} <= set(p) for p in paths)
    assert {p["band"] for p in paths} == {"160m", "80m", "60m", "40m", "30m", "20m", "17m", "15m", "12m", "10m"}


def test_select_groups():
    specs = load_specs(kinds=KINDS)
    assert {s.group for s in select(specs, ["physics"])} == {"physics"}
    assert {s.group for s in select(specs, ["sidecar,band-time"])} == {"sidecar", "band_time"}
    assert select(specs, None) == specs
    with pytest.raises(InputError, match="unknown group 'nope'"):
        select(specs, ["nope"])
