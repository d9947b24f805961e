"""The SFI x Kp matrix engine: values against one-at-a-time predictions, monotonicity checks
(with deliberately broken models), path facts, the 24-hour curve, differences, input errors."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.checkpoint import LoadedModel, load_model, save_safetensors
from engine.errors import InputError
from engine.matrix import (
    DEFAULT_KP,
    DEFAULT_SFI,
    TOLERANCE_SIGMA,
    compare,
    compute_matrix,
    difference,
    find_violations,
    hour_curve,
    light_label,
    make_path,
    parse_values,
)
from engine.matrix.report import as_dict, format_table
from engine.matrix.values import check_hour, check_month
from engine.model import IonisGate
from engine.model_sources import default_checkpoint, list_checkpoints, newest_best
from engine.predict import predict_one
from engine.settings import Settings


@pytest.fixture(scope="module")
def v22(v22_file) -> LoadedModel:
    return load_model(v22_file)


@pytest.fixture(scope="module")
def ref_path():
    return make_path("W3", "G", "20m", 12, 6, 172)


# ---- deliberately broken models -------------------------------------------------------------
# IonisGate's sidecars are monotonic by construction (|W| weights), so no choice of weights can
# make the storm term grow with Kp. The honest way to get a model that violates the physics is
# to undo the input inversion the architecture relies on: these subclasses load the published
# V22 weights unchanged and feed the storm sidecar kp/9 instead of 1 - kp/9 (or the sun sidecar
# 1 - sfi/300 instead of sfi/300) -- exactly the bug of forgetting the kp_penalty flip.

class FlippedStorm(IonisGate):
    def parts(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x = x.clone()
        k = self.feature_set.kp_idx
        x[:, k] = 1.0 - x[:, k]
        return super().parts(x)


class FlippedSun(IonisGate):
    def parts(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x = x.clone()
        s = self.feature_set.sfi_idx
        x[:, s] = 1.0 - x[:, s]
        return super().parts(x)


def _broken(cls, lm: LoadedModel) -> LoadedModel:
    m = cls(lm.feature_set)
    m.load_state_dict(lm.model.state_dict())
    m.eval()
    return LoadedModel(m, lm.feature_set, Path(f"broken-{cls.__name__}"), "broken")


# ---- values -----------------------------------------------------------------------------------

def test_defaults_shape_and_axes(v22, ref_path):
    r = compute_matrix(v22, ref_path)
    assert r.sigma.shape == (6, 10) and r.db.shape == (6, 10)
    assert list(r.sfi) == list(DEFAULT_SFI) and list(r.kp) == list(DEFAULT_KP)
    assert all(v.dtype == np.float32 for v in r.terms.values())


def test_every_cell_matches_predict_one(v22, ref_path):
    r = compute_matrix(v22, ref_path)
    for i, s in enumerate(r.sfi):
        for j, k in enumerate(r.kp):
            one = predict_one(v22, ref_path, float(s), float(k))
            cell = r.cell(i, j)
            for key in ("sigma", "db", "base", "sun_gate", "storm_gate", "sun", "storm"):
                assert cell[key] == pytest.approx(one[key], abs=2e-5), (s, k, key)
            # the decomposition adds up to the prediction
            assert cell["base"] + cell["sun"] + cell["storm"] == pytest.approx(cell["sigma"], abs=1e-5)
            assert cell["sun_gate"] * cell["sun_sidecar"] == pytest.approx(cell["sun"], abs=1e-6)


@pytest.mark.parametrize("tx,rx,band,hour,month,day", [
    ("OX", "OH", "20m", 3, 12, None), ("FN20", "JO01", "10m", 18.5, 3, 80),
    ("-33.87,151.21", "IO91wm", "160m", 0, 9, None), ("VK", "G", "40m", 23, 1, 5),
])
def test_other_paths_match_predict_one(v22, tx, rx, band, hour, month, day):
    p = make_path(tx, rx, band, hour, month, day)
    r = compute_matrix(v22, p, sfi="60,140,390", kp="0,4.5,9")
    for i, s in enumerate(r.sfi):
        for j, k in enumerate(r.kp):
            assert r.db[i, j] == pytest.approx(predict_one(v22, p, float(s), float(k))["db"], abs=1e-4)


def test_hour_curve_matches_predict_one(v22, ref_path):
    c = hour_curve(v22, ref_path, 150, 2)
    assert c.hours.tolist() == list(range(24))
    for h in (0, 5, 12, 23):
        p = make_path("W3", "G", "20m", h, 6, 172)
        assert c.terms["db"][h] == pytest.approx(predict_one(v22, p, 150, 2)["db"], abs=1e-4)


def test_difference_is_a_minus_b(v22, other_v20_file, ref_path):
    v20 = load_model(other_v20_file)
    d = compare(v22, v20, ref_path)
    a, b = compute_matrix(v22, ref_path), compute_matrix(v20, ref_path)
    np.testing.assert_allclose(d.db, a.db - b.db, atol=1e-5)
    np.testing.assert_allclose(d.sigma, a.sigma - b.sigma, atol=1e-6)
    assert np.abs(d.db).max() > 0.1          # two different models really differ here
    assert np.all(difference(a, a).sigma == 0)
    other = compute_matrix(v22, make_path("W3", "JA", "20m", 12, 6, 172))
    with pytest.raises(InputError, match="same inputs"):
        difference(a, other)


def test_units_and_json_dict(v22, ref_path):
    r = compute_matrix(v22, ref_path, sfi=[70, 200], kp=[0, 9])
    d = as_dict(r, "sigma")
    json.dumps(d)  # serialisable as is
    assert d["units"] == "sigma" and d["sfi"] == [70.0, 200.0] and d["kp"] == [0.0, 9.0]
    assert d["values"][1][0] == pytest.approx(float(r.sigma[1, 0]), abs=1e-4)
    assert d["path"]["distance_km"] == pytest.approx(5880, abs=10)
    with pytest.raises(InputError, match="units"):
        r.values("watts")
    text = format_table(r, "db")
    assert "W3 (39.14,-77.01) -> G (51.50,-0.12)" in text and f"{r.db[0, 1]:+.2f}" in text


# ---- monotonicity -----------------------------------------------------------------------------

def test_healthy_models_have_no_violations(v22):
    torch.manual_seed(0)
    fresh = IonisGate("v22").eval()
    lm_fresh = LoadedModel(fresh, fresh.feature_set, Path("fresh"), "fresh")
    for tx, rx, band, hour in (("W3", "G", "20m", 12), ("OX", "OH", "20m", 2), ("JA", "VK", "10m", 4),
                               ("G", "ZL", "160m", 20)):
        p = make_path(tx, rx, band, hour, 6)
        for lm in (v22, lm_fresh):
            r = compute_matrix(lm, p, kp=np.linspace(0, 9, 19))
            assert r.violations == [], (tx, rx, band, lm.label)


def test_flipped_storm_gives_every_kp_step_as_violation(v22, ref_path):
    broken = _broken(FlippedStorm, v22)
    r = compute_matrix(broken, ref_path)
    kinds = {v["kind"] for v in r.violations}
    assert kinds == {"kp"}
    S, K = r.sigma.shape
    assert len(r.violations) == S * (K - 1)
    # Independent check of each amount: with the input flipped, the storm term at Kp k equals the
    # healthy model's storm term at Kp 9 - k; everything else is unchanged.
    healthy_at_mirror = compute_matrix(v22, ref_path, kp=[9 - k for k in DEFAULT_KP])  # ascending again
    storm_mirror = healthy_at_mirror.terms["storm"][:, ::-1]   # column j <-> Kp 9 - kp[j]
    for v in r.violations:
        (i, j), (i2, j2) = v["cells"]
        assert i == i2 and j2 == j + 1
        want = float(storm_mirror[i, j + 1] - storm_mirror[i, j])
        assert v["by_sigma"] == pytest.approx(want, abs=1e-5)
        assert v["by_db"] == pytest.approx(want * ref_path.band.snr_std, abs=1e-4)
        assert v["kp"] == [r.kp[j], r.kp[j + 1]]
        assert "better by" in v["message"]


def test_flipped_sun_gives_sfi_violations(v22, ref_path):
    r = compute_matrix(_broken(FlippedSun, v22), ref_path)
    assert {v["kind"] for v in r.violations} == {"sfi"}
    assert len(r.violations) == (r.sigma.shape[0] - 1) * r.sigma.shape[1]
    assert all(v["by_sigma"] > 0 and "worse by" in v["message"] for v in r.violations)


def test_find_violations_on_a_hand_made_matrix():
    sfi, kp = np.array([70.0, 150.0, 250.0]), np.array([0.0, 5.0, 9.0])
    sig = np.array([[1.0, 0.5, 0.0],
                    [1.2, 0.7, 0.2],
                    [1.2 - 5e-7, 0.6, 0.3]])          # 5e-7 drop: inside the tolerance
    sig[1, 2] = 0.7 + 2e-6                            # Kp 5 -> 9 at SFI 150 gets better by 2e-6
    v = find_violations(sig, sfi, kp, db_per_sigma=6.7)
    assert [(x["kind"], x["cells"]) for x in v] == [
        ("sfi", [[1, 1], [2, 1]]), ("sfi", [[1, 2], [2, 2]]), ("kp", [[1, 1], [1, 2]])]
    assert v[0]["by_sigma"] == pytest.approx(0.1) and v[0]["by_db"] == pytest.approx(0.67)
    assert v[0]["sfi"] == [150.0, 250.0] and v[0]["kp"] == [5.0, 5.0]
    assert v[2]["by_sigma"] == pytest.approx(2e-6, rel=1e-3)
    # The same drop at twice the tolerance is reported: the tolerance is what hid it above.
    sig[2, 0] = 1.2 - 2 * TOLERANCE_SIGMA
    cells = [x["cells"] for x in find_violations(sig, sfi, kp, db_per_sigma=6.7) if x["kind"] == "sfi"]
    assert [[1, 0], [2, 0]] in cells


# ---- path facts -------------------------------------------------------------------------------

def test_path_facts(v22, ref_path):
    f = compute_matrix(v22, ref_path).facts
    assert f.distance_km == pytest.approx(5880, abs=10)
    assert f.azimuth_deg == pytest.approx(49.5, abs=0.5)
    assert f.doy_used == 172
    # 12 UTC in June: the sun is high in both Maryland and London
    assert f.tx_light == "day" and f.rx_light == "day"
    night = compute_matrix(v22, make_path("W3", "G", "20m", 4, 12, 355)).facts
    assert night.tx_light == "night" and night.tx_elevation_deg < -6
    assert make_path("W3", "G", "20m", 4, 12).day is None
    assert compute_matrix(v22, make_path("W3", "G", "20m", 4, 12)).facts.doy_used == (12 - 1) * 30.5 + 15


def test_light_labels():
    assert light_label(10) == "day" and light_label(-10) == "night"
    assert light_label(0) == light_label(5.9) == light_label(-6) == "grey line"


# ---- input errors -----------------------------------------------------------------------------

@pytest.mark.parametrize("args,match", [
    (("XX99", "G", "20m", 12, 6), "unknown location"),
    (("W3", "nowhere", "20m", 12, 6), "unknown location"),
    (("W3", "95,0", "20m", 12, 6), "latitude"),
    (("W3", "G", "11m", 12, 6), "unknown band"),
    (("W3", "G", "20m", 24, 6), "hour"),
    (("W3", "G", "20m", "noon", 6), "hour"),
    (("W3", "G", "20m", 12, 13), "month"),
    (("W3", "G", "20m", 12, 6.5), "whole number"),
    (("W3", "G", "20m", 12, 6, 400), "day of year"),
    (("W3", "G", "20m", 12, 6, "x"), "day of year"),
])
def test_path_errors(args, match):
    with pytest.raises(InputError, match=match):
        make_path(*args)


@pytest.mark.parametrize("text,name,match", [
    ("20", "SFI", "outside"), ("401", "SFI", "outside"), ("70,,150", "SFI", "malformed"),
    ("", "SFI", "empty"), ("70;150", "SFI", "not a number"), ("nan", "SFI", "outside"),
    ("-1", "Kp", "outside"), ("10", "Kp", "outside"), ("a,b", "Kp", "not a number"),
    (",", "Kp", "malformed"), (",".join(["1"] * 3) + ",inf", "Kp", "outside"),
])
def test_value_list_errors(text, name, match):
    with pytest.raises(InputError, match=match):
        parse_values(text, name)


def test_value_lists_sorted_and_unique(v22, ref_path):
    assert parse_values(" 200, 70,150,70 ", "SFI").tolist() == [70.0, 150.0, 200.0]
    with pytest.raises(InputError, match="SFI"):
        compute_matrix(v22, ref_path, sfi=[70, 500])
    with pytest.raises(InputError, match="Kp"):
        hour_curve(v22, ref_path, 150, 9.5)
    with pytest.raises(InputError, match="at most"):
        parse_values(",".join(str(50 + i) for i in range(65)), "SFI")


def test_field_checks():
    assert check_hour(" 13.5 ") == 13.5 and check_month("12") == 12
    for bad in ("24", "-1", "x", ""):
        with pytest.raises(InputError):
            check_hour(bad)
    for bad in ("0", "13", "6.5", "June"):
        with pytest.raises(InputError):
            check_month(bad)


# ---- where models come from -------------------------------------------------------------------

def test_without_shared_the_published_v22_comes_from_the_installed_ionis_validate(tmp_path, monkeypatch):
    """A user's machine has no ../shared: the peer's package (pip install ionis-validate) ships
    V22-gamma with its config, and verify, matrix and the app's default find it there."""
    import hashlib

    from conftest import V22_SHA256

    import engine.model_sources as sources

    here = tmp_path / "clone" / "engine" / "model_sources.py"   # a checkout with no shared/ beside it
    monkeypatch.setattr(sources, "__file__", str(here))
    (tmp_path / "work" / "dir").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "work" / "dir")
    found = sources.published_v22()
    assert found is not None and "ionis_validate" in found.parts, found
    assert hashlib.sha256(found.read_bytes()).hexdigest() == V22_SHA256
    assert found.with_name("config_v22.json").is_file()
    assert default_checkpoint(tmp_path / "runs") == found and list_checkpoints(tmp_path / "runs") == [found]


def test_checkpoint_sources(tmp_path, v22_file):
    s = Settings(runs={"dir": str(tmp_path / "runs")})
    assert newest_best(s.runs.dir) is None
    assert default_checkpoint(s.runs.dir).resolve() == v22_file.resolve()       # no runs yet: the published V22
    assert default_checkpoint(s.runs.dir, Path("x.pt")) == Path("x.pt")
    m = IonisGate("v22")
    old = save_safetensors(m, tmp_path / "runs" / "a" / "best.safetensors")
    new = save_safetensors(m, tmp_path / "runs" / "b" / "best.safetensors")
    os.utime(old, (time.time() - 100, time.time() - 100))
    assert newest_best(s.runs.dir) == new and default_checkpoint(s.runs.dir) == new
    listed = list_checkpoints(s.runs.dir)
    assert listed[:2] == [new, old] and v22_file.resolve() in [p.resolve() for p in listed]
