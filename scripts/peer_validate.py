"""Run the peer's own tests (PyPI `ionis-validate`) on an exported checkpoint:

    ionis-tui export CHECKPOINT --peer DIR
    python scripts/peer_validate.py DIR/config.json     # add --v20 for a published V20 config

Drive the peer's own test functions (PyPI `ionis-validate`) on any checkpoint and read the
values they computed: each test function runs as published, and the locals it held when it
returned (delta_db, delta, peak_hour, raw_results, gates, ...) are taken from its frame.

`features`: "v22" runs the functions as published (they always build V22 features); "v20"
hands them the peer's own V20 feature builder (include_solar_depression off), which is the
only right way to feed a V20-layout model through them.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path
from typing import Any

TST900 = {  # our id -> the peer's function name in test_tst900_band_time
    "TST-901": "test_tst901_10m_band_closure", "TST-901b": "test_tst901b_10m_summer_twilight",
    "TST-902": "test_tst902_15m_band_closure", "TST-903": "test_tst903_160m_mutual_darkness",
    "TST-904": "test_tst904_80m_mutual_darkness", "TST-905": "test_tst905_band_ordering_day",
    "TST-906": "test_tst906_band_ordering_night", "TST-907": "test_tst907_time_sensitivity",
    "TST-908": "test_tst908_10m_peak_hour", "TST-909": "test_tst909_160m_peak_hour",
    "TST-910": "test_tst910_40m_gray_line",
}
# The value each peer function judges, as (local name, unit) -> our Result field.
VALUE = {"TST-901": "delta_db", "TST-901b": "delta_db", "TST-902": "delta_db", "TST-903": "delta_db",
         "TST-904": "delta_db", "TST-905": "delta", "TST-906": "delta", "TST-907": "delta_db",
         "TST-908": "peak_hour", "TST-909": "peak_hour", "TST-910": "twilight_boost"}


def run_with_locals(fn, *args) -> tuple[Any, dict[str, Any]]:
    """Call fn(*args) silently; return its result and its local variables at return."""
    seen: dict[str, Any] = {}
    code = fn.__code__

    def profile(frame, event, arg):
        if event == "return" and frame.f_code is code:
            seen.update(frame.f_locals)

    old = sys.getprofile()
    sys.setprofile(profile)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            result = fn(*args)
    finally:
        sys.setprofile(old)
    return result, seen


@contextlib.contextmanager
def _features(module, features: str):
    original = module.build_features
    if features == "v20":
        def v20(*a, **k):
            k["include_solar_depression"] = False
            return original(*a, **k)
        module.build_features = v20
    try:
        yield
    finally:
        module.build_features = original


def peer_model(config: Path, checkpoint: Path):
    import torch
    from ionis_validate.model import load_model

    model, cfg, meta = load_model(str(config), str(checkpoint), device=torch.device("cpu"))
    return model, cfg


def tst900(config: Path, checkpoint: Path, features: str = "v22") -> dict[str, tuple[bool, float]]:
    """{id: (verdict, value)} from the peer's TST-900 functions, its sigma->dB table taken from
    `config` (the functions read a module-level CONFIG)."""
    import torch
    from ionis_validate.tests import test_tst900_band_time as t9

    model, cfg = peer_model(config, checkpoint)
    out = {}
    saved = t9.CONFIG
    t9.CONFIG = cfg
    try:
        with _features(t9, features):
            for tid, name in TST900.items():
                ok, loc = run_with_locals(getattr(t9, name), model, torch.device("cpu"))
                out[tid] = (bool(ok), float(loc[VALUE[tid]]))
    finally:
        t9.CONFIG = saved
    return out


def ki7mt(config: Path, checkpoint: Path, features: str = "v22") -> dict[str, Any]:
    """The peer's run_validation on this checkpoint: per test raw/override verdicts and sigma,
    its four gates and the group verdict."""
    from ionis_validate.tests import test_ki7mt_override as k

    saved = (k.V22_CONFIG, k.V22_CHECKPOINT)
    k.V22_CONFIG, k.V22_CHECKPOINT = str(config), str(checkpoint)
    try:
        with _features(k, features):
            ok, loc = run_with_locals(k.run_validation, False)
    finally:
        k.V22_CONFIG, k.V22_CHECKPOINT = saved
    return {"passed": bool(ok), "raw": loc["raw_results"], "override": loc["override_results"],
            "audit": loc["override_audit"], "gates": loc["gates"],
            "raw_hard_pass": loc["raw_hard_pass"], "ovr_hard_pass": loc["ovr_hard_pass"],
            "regressions": loc["regressions"]}


def config_for(checkpoint: Path) -> Path:
    """The peer config beside a checkpoint: config.json (our export) or config_v2x.json."""
    for name in ("config.json", "config_v22.json", "config_v20.json"):
        p = checkpoint.with_name(name)
        if p.is_file() and json.loads(p.read_text()).get("checkpoint") == checkpoint.name:
            return p
    raise FileNotFoundError(f"no peer config beside {checkpoint}")


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description="the peer's TST-900 and KI7MT tests on a peer-layout checkpoint")
    ap.add_argument("config", help="config.json written by `ionis-tui export --peer` (or config_v2x.json)")
    ap.add_argument("--checkpoint", help="weights (default: the config's checkpoint, beside it)")
    ap.add_argument("--v20", action="store_true", help="feed V20 features (a V20-layout model)")
    a = ap.parse_args(argv)
    cfg = Path(a.config)
    ck = Path(a.checkpoint) if a.checkpoint else cfg.with_name(json.loads(cfg.read_text())["checkpoint"])
    feats = "v20" if a.v20 else "v22"
    rows = tst900(cfg, ck, feats)
    for tid, (ok, value) in rows.items():
        print(f"{tid:<10} {'PASS' if ok else 'FAIL'}  {value:+.4f}")
    k = ki7mt(cfg, ck, feats)
    for tid, r in k["raw"].items():
        o = k["override"][tid]
        print(f"{tid:<10} raw {'PASS' if r['passed'] else 'FAIL'}  override {'PASS' if o['passed'] else 'FAIL'}")
    for name, ok in k["gates"]:
        print(f"gate [{'PASS' if ok else 'FAIL'}] {name}")
    print(f"TST-900 {sum(ok for ok, _ in rows.values())}/{len(rows)} · KI7MT raw {k['raw_hard_pass']}/17, "
          f"override {k['ovr_hard_pass']}/17 · group {'PASS' if k['passed'] else 'FAIL'}")
    return 0 if k["passed"] and all(ok for ok, _ in rows.values()) else 1


if __name__ == "__main__":
    import warnings

    warnings.filterwarnings("ignore", category=UserWarning)  # the peer's list-of-arrays tensor warning
    sys.exit(main())
