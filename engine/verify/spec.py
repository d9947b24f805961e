"""Test definitions: read the TOML file (tests are data) into checked TestSpec objects.

A test names a `kind` (a measurement implemented in engine.verify.kinds), its conditions,
the unit its pass rule is judged in, the pass rule and optional A-D grade thresholds.
Unknown keys are refused so a typo in the file never silently changes a test.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from engine.errors import InputError
from engine.verify.rules import Rule, parse_rule

DEFAULT_FILE = "tests.toml"
GROUPS = ("physics", "band_time", "paths", "skill", "robustness", "sidecar", "truth")
# Groups whose tests are evidence about what the model learned (not about the code).
MODEL_GROUPS = ("physics", "band_time", "paths", "skill")
GROUP_TITLES = {
    "physics": "Physics (TST-200)",
    "band_time": "Band x time (TST-900)",
    "paths": "Known paths (open / dead)",
    "skill": "Skill on real spots",
    "robustness": "Robustness",
    "sidecar": "Sidecar health",
    "truth": "Ground truth (demo data)",
}
UNITS = ("db", "sigma", "hour", "count", "ratio", "skill")
UNIT_SUFFIX = {"db": " dB", "sigma": " σ", "hour": " UTC", "count": "", "ratio": "x", "skill": ""}
META_KEYS = {"id", "name", "group", "kind", "unit", "pass", "grades", "grade_on", "why", "architecture",
             "original"}
PATH_KEYS = ("tx", "rx", "band", "hour", "month", "day", "sfi", "kp")


@dataclass(frozen=True)
class TestSpec:
    id: str
    name: str
    group: str
    kind: str
    unit: str                       # what the pass rule is judged in
    pass_rule: Rule | None          # None: the kind judges itself (sidecar health)
    grades: tuple[Rule, ...] = ()   # A, B, C, D thresholds; empty = not graded
    grade_on: str = "value"         # "value" or "ratio" (TST-204 grades the polar/mid ratio)
    why: str = ""                   # the physics, one line
    conditions: dict[str, Any] = field(default_factory=dict)
    architecture: bool = False      # holds by construction: reported, not evidence about the model
    original: bool = False          # mirrors the peer's test of the same id (paths, thresholds)

    @property
    def threshold_text(self) -> str:
        unit = UNIT_SUFFIX[self.unit]
        if self.pass_rule is not None:
            text = f"{self.pass_rule}{unit}"
        elif self.kind == "sidecar_health":
            text = f"alive and > floor effect + {self.conditions.get('margin_sigma', 0.05):g} σ"
        else:  # truth kinds
            c = self.conditions
            text = f"each path within max({c.get('tolerance_db', 2.0):g} dB, {c.get('tolerance_rel', 0.3):.0%})"
        if self.grades:
            gu = "x" if self.grade_on == "ratio" else unit
            g = " ".join(f"{letter}{str(r).replace(' ', '')}" for letter, r in zip("ABCD", self.grades, strict=False))
            text += f" (grade {'ratio ' if self.grade_on == 'ratio' else ''}{g}{gu})"
        return text


def default_path() -> Path:
    return Path(str(resources.files("engine.verify").joinpath(DEFAULT_FILE)))


def _check_value(where: str, key: str, v: Any) -> None:
    if isinstance(v, float) and not math.isfinite(v) and key != "cases":
        raise InputError(f"{where}: {key} = {v} is not a finite number")


def _resolve_paths(where: str, value: Any, path_sets: dict[str, Any], defaults: dict[str, Any]) -> list[dict]:
    """`paths` is the name of a [path_sets] entry or an inline list; each entry gets the defaults."""
    if isinstance(value, str):
        if value not in path_sets:
            raise InputError(f"{where}: unknown path set {value!r} (defined: {', '.join(path_sets) or 'none'})")
        value = path_sets[value]
    if not isinstance(value, list) or not value or not all(isinstance(p, dict) for p in value):
        raise InputError(f"{where}: paths must be a non-empty list of tables like {{tx = \"W3\", rx = \"G\"}}")
    out = []
    for p in value:
        extra = set(p) - set(PATH_KEYS)
        if extra:
            raise InputError(f"{where}: path entry has unknown key(s) {', '.join(sorted(extra))}")
        out.append({**defaults, **p})
    return out


def _flags(where: str, t: dict[str, Any]) -> tuple[bool, bool]:
    """(architecture, original): true/false only, so a typo never silently relabels a test."""
    for flag in ("architecture", "original"):
        if not isinstance(t.get(flag, False), bool):
            raise InputError(f"{where}: {flag} must be true or false")
    return bool(t.get("architecture", False)), bool(t.get("original", False))


def parse_specs(data: dict[str, Any], origin: str = "tests") -> list[TestSpec]:
    from engine.verify.kinds import KINDS  # kinds import spec types; import here to avoid a cycle

    defaults = dict(data.get("defaults") or {})
    bad = set(defaults) - set(PATH_KEYS)
    if bad:
        raise InputError(f"{origin}: [defaults] has unknown key(s) {', '.join(sorted(bad))}")
    path_sets = dict(data.get("path_sets") or {})
    tests = data.get("test")
    if not isinstance(tests, list) or not tests:
        raise InputError(f"{origin}: no [[test]] entries")
    specs: list[TestSpec] = []
    seen: set[str] = set()
    for i, t in enumerate(tests, 1):
        where = f"{origin}: test #{i} ({t.get('id', 'no id')})"
        for req in ("id", "name", "group", "kind", "unit"):
            if not isinstance(t.get(req), str) or not t[req].strip():
                raise InputError(f"{where}: missing or empty '{req}'")
        if t["id"] in seen:
            raise InputError(f"{where}: duplicate id")
        seen.add(t["id"])
        if t["group"] not in GROUPS:
            raise InputError(f"{where}: unknown group {t['group']!r} (groups: {', '.join(GROUPS)})")
        kind = KINDS.get(t["kind"])
        if kind is None:
            raise InputError(f"{where}: unknown kind {t['kind']!r} (kinds: {', '.join(sorted(KINDS))})")
        if t["unit"] not in UNITS:
            raise InputError(f"{where}: unknown unit {t['unit']!r} (units: {', '.join(UNITS)})")
        extra = set(t) - META_KEYS - set(kind.uses)
        if extra:
            raise InputError(f"{where}: key(s) {', '.join(sorted(extra))} mean nothing to kind "
                             f"{t['kind']!r} (it reads: {', '.join(kind.uses)})")
        if kind.judges_itself:
            pass_rule = None
        elif "pass" not in t:
            raise InputError(f"{where}: missing 'pass' rule")
        else:
            pass_rule = parse_rule(t["pass"], f"{where} pass")
        grades_raw = t.get("grades", [])
        if not isinstance(grades_raw, list) or len(grades_raw) not in (0, 4):
            raise InputError(f"{where}: grades must list 4 rules (A, B, C, D)")
        grades = tuple(parse_rule(g, f"{where} grade") for g in grades_raw)
        grade_on = t.get("grade_on", "value")
        if grade_on not in ("value", "ratio"):
            raise InputError(f"{where}: grade_on must be 'value' or 'ratio'")
        cond: dict[str, Any] = {k: v for k, v in defaults.items() if k in kind.uses}
        for k in kind.uses:
            if k in t:
                _check_value(where, k, t[k])
                cond[k] = t[k]
        if "paths" in kind.uses:
            if "paths" not in t:
                raise InputError(f"{where}: kind {t['kind']!r} needs 'paths'")
            cond["paths"] = _resolve_paths(where, t["paths"], path_sets, defaults)
        missing = [k for k in kind.required if k not in cond]
        if missing:
            raise InputError(f"{where}: missing {', '.join(missing)} (no default either)")
        specs.append(TestSpec(t["id"], t["name"], t["group"], t["kind"], t["unit"], pass_rule,
                              grades, grade_on, str(t.get("why", "")), cond, *_flags(where, t)))
    return specs


def load_specs(path: str | Path | None = None) -> list[TestSpec]:
    """The shipped test file, or another one with the same layout."""
    p = Path(path) if path is not None else default_path()
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"test file not found: {p}") from None
    except OSError as exc:
        raise InputError(f"cannot read test file {p}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{p} is not valid TOML: {exc}") from None
    return parse_specs(data, str(p.name))


def select(specs: Iterable[TestSpec], groups: Iterable[str] | None) -> list[TestSpec]:
    """Keep the named groups; an unknown name is an error, not an empty report."""
    specs = list(specs)
    if not groups:
        return specs
    wanted = []
    for g in groups:
        for name in str(g).split(","):
            name = name.strip().lower().replace("-", "_")
            if name in ("band_x_time", "bandtime", "tst900", "900"):
                name = "band_time"
            if name == "model":  # shorthand for the groups that are evidence about the model
                wanted.extend(MODEL_GROUPS)
                continue
            if name not in GROUPS:
                raise InputError(f"unknown group {g!r}: use one of {', '.join(GROUPS)}")
            wanted.append(name)
    return [s for s in specs if s.group in wanted]
