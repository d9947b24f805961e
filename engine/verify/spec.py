"""Test definitions: read the TOML file (tests are data) into checked TestSpec objects.

A test names a `kind` (a measurement implemented in engine.verify.kinds), its conditions,
the unit its pass rule is judged in, the pass rule and optional A-D grade thresholds.
Unknown keys are refused so a typo in the file never silently changes a test.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, field_validator

from engine.errors import InputError
from engine.verify.rules import Rule, parse_rule

DEFAULT_FILE = "tests.toml"
GROUPS = ("physics", "band_time", "ki7mt", "paths", "skill", "robustness", "sidecar", "truth")
# Groups whose tests are evidence about what the model learned (not about the code).
MODEL_GROUPS = ("physics", "band_time", "ki7mt", "paths", "skill")
GROUP_TITLES = {
    "physics": "Physics (TST-200)",
    "band_time": "Band x time (TST-900)",
    "ki7mt": "KI7MT operator paths (raw → override)",
    "paths": "Known paths (open / dead)",
    "skill": "Skill on real spots",
    "robustness": "Robustness",
    "sidecar": "Sidecar health",
    "truth": "Ground truth (demo data)",
}
UNITS = ("db", "sigma", "hour", "count", "ratio", "skill")
UNIT_SUFFIX = {"db": " dB", "sigma": " σ", "hour": " UTC", "count": "", "ratio": "x", "skill": ""}
META_KEYS = {"id", "name", "group", "kind", "unit", "pass", "grades", "grade_on", "why", "architecture",
             "original", "soft"}
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
    soft: bool = False              # the peer's "soft" confidence: reported, left out of its group gates
    aggregate: bool = False         # a verdict over its group's other results (set by the kind)

    @property
    def threshold_text(self) -> str:
        unit = UNIT_SUFFIX[self.unit]
        if self.pass_rule is not None:
            text = f"{self.pass_rule}{unit}"
        elif self.kind == "group_gates":
            text = "all 4 gates"
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


class _Entry(BaseModel):
    """The keys every [[test]] has, checked by pydantic; the kind-specific keys stay as extras
    (each kind declares the ones it reads; anything else is refused in parse_specs)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: str
    name: str
    group: str
    kind: str
    unit: str
    pass_: Any = Field(None, alias="pass")
    grades: list[Any] = []
    grade_on: str = "value"
    why: str = ""
    architecture: StrictBool = False   # true/false only: a typo never silently relabels a test
    original: StrictBool = False
    soft: StrictBool = False

    @field_validator("id", "name", "group", "kind", "unit", mode="before")
    @classmethod
    def _text(cls, v: Any) -> str:
        if not isinstance(v, str) or not v.strip():
            raise ValueError("missing or empty")
        return v

    @field_validator("group")
    @classmethod
    def _group(cls, v: str) -> str:
        if v not in GROUPS:
            raise ValueError(f"unknown group {v!r} (groups: {', '.join(GROUPS)})")
        return v

    @field_validator("unit")
    @classmethod
    def _unit(cls, v: str) -> str:
        if v not in UNITS:
            raise ValueError(f"unknown unit {v!r} (units: {', '.join(UNITS)})")
        return v

    @field_validator("grades", mode="before")
    @classmethod
    def _grades(cls, v: Any) -> Any:
        if not isinstance(v, list) or len(v) not in (0, 4):
            raise ValueError("grades must list 4 rules (A, B, C, D)")
        return v

    @field_validator("grade_on")
    @classmethod
    def _grade_on(cls, v: str) -> str:
        if v not in ("value", "ratio"):
            raise ValueError("grade_on must be 'value' or 'ratio'")
        return v


def _entry(where: str, t: dict[str, Any]) -> _Entry:
    try:
        return _Entry.model_validate(t)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(x) for x in err["loc"]) or "entry"
        msg = err["msg"].removeprefix("Value error, ")
        if msg == "missing or empty" or err["type"] == "missing":
            raise InputError(f"{where}: missing or empty '{key}'") from None
        if err["type"].startswith("bool"):
            raise InputError(f"{where}: {key} must be true or false") from None
        raise InputError(f"{where}: {msg}") from None


def _conditions(where: str, t: dict[str, Any], kind: Any, defaults: dict[str, Any],
                path_sets: dict[str, Any]) -> dict[str, Any]:
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
    return cond


def parse_specs(data: dict[str, Any], origin: str = "tests", *, kinds: Mapping[str, Any]) -> list[TestSpec]:
    """Checked TestSpecs from the parsed TOML; `kinds` is the registry of measurements
    (engine.verify.kinds.KINDS), passed in so this module needs no import of it."""
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
        e = _entry(where, t)
        if e.id in seen:
            raise InputError(f"{where}: duplicate id")
        seen.add(e.id)
        kind = kinds.get(e.kind)
        if kind is None:
            raise InputError(f"{where}: unknown kind {e.kind!r} (kinds: {', '.join(sorted(kinds))})")
        extra = set(t) - META_KEYS - set(kind.uses)
        if extra:
            raise InputError(f"{where}: key(s) {', '.join(sorted(extra))} mean nothing to kind "
                             f"{e.kind!r} (it reads: {', '.join(kind.uses)})")
        if kind.judges_itself:
            pass_rule = None
        elif "pass" not in t:
            raise InputError(f"{where}: missing 'pass' rule")
        else:
            pass_rule = parse_rule(t["pass"], f"{where} pass")
        grades = tuple(parse_rule(g, f"{where} grade") for g in e.grades)
        cond = _conditions(where, t, kind, defaults, path_sets)
        specs.append(TestSpec(e.id, e.name, e.group, e.kind, e.unit, pass_rule, grades, e.grade_on,
                              e.why, cond, e.architecture, e.original, e.soft, kind.aggregate))
    return specs


def load_specs(path: str | Path | None = None, *, kinds: Mapping[str, Any]) -> list[TestSpec]:
    """The shipped test file, or another one with the same layout (kinds: see parse_specs)."""
    p = Path(path) if path is not None else default_path()
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"test file not found: {p}") from None
    except OSError as exc:
        raise InputError(f"cannot read test file {p}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{p} is not valid TOML: {exc}") from None
    return parse_specs(data, str(p.name), kinds=kinds)


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
