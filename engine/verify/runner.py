"""Run a list of TestSpecs against one LoadedModel and judge each measurement.

The model is only read: predictions go through engine.predict under no_grad on whatever
LoadedModel the caller passes (a checkpoint, or engine.checkpoint.from_live's CPU copy of a
model in training), so verifying never disturbs a training run.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from engine.checkpoint import LoadedModel
from engine.data.provenance import is_demo
from engine.errors import IonisError
from engine.verify.kinds import KINDS, Evaluator, Measurement
from engine.verify.rules import grade_for
from engine.verify.spec import GROUP_TITLES, GROUPS, UNIT_SUFFIX, TestSpec, load_specs

PASS, FAIL, NA = "pass", "fail", "n/a"
GRADE_POINTS = {"A": 4, "B": 3, "C": 2, "D": 1, "F": 0}


@dataclass
class Result:
    id: str
    name: str
    group: str
    value_db: float | None
    value_sigma: float | None
    threshold: str
    passed: bool | None          # None when the test does not apply (status "n/a")
    grade: str | None            # A-F for graded tests, else None
    explanation: str
    status: str                  # "pass", "fail" or "n/a"
    value: float | None = None   # the judged quantity when not dB/sigma (peak hour, count, ratio)
    unit: str = "db"
    conditions: dict[str, Any] = field(default_factory=dict)
    architecture: bool = False   # holds by construction: not evidence about the model
    original: bool = False       # mirrors the peer's test of the same id
    soft: bool = False           # the peer's soft confidence: left out of its group gates
    aggregate: bool = False      # a verdict over its group's other results: reported, not counted
    override_value: float | None = None  # judged value after the peer's override rule (KI7MT group)
    override_status: str | None = None   # "pass"/"fail" with the override; None when it does not apply
    override_fired: int = 0              # predictions the override clamped
    extra: dict[str, Any] = field(default_factory=dict)  # the kind's own numbers (e.g. the KI7MT gates)

    @property
    def counted(self) -> bool:
        """Evidence about the model: not true by construction, not a summary of other results."""
        return not self.architecture and not self.aggregate

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: NaN/inf become null for values and their text inside conditions."""
        def num(x: float | None) -> float | None:  # JSON has no NaN; an undefined value is null
            return None if x is None or not math.isfinite(x) else round(float(x), 6)
        return {"id": self.id, "name": self.name, "group": self.group,
                "value_db": num(self.value_db), "value_sigma": num(self.value_sigma),
                "threshold": self.threshold, "passed": self.passed, "grade": self.grade,
                "explanation": self.explanation, "status": self.status, "value": num(self.value),
                "unit": self.unit, "conditions": _jsonable(self.conditions),
                "architecture": self.architecture, "original": self.original, "soft": self.soft,
                "aggregate": self.aggregate, "counted": self.counted, "extra": _jsonable(self.extra),
                "override": None if self.override_status is None else {
                    "value": num(self.override_value), "status": self.override_status,
                    "clamped": self.override_fired}}


def _jsonable(v: Any) -> Any:
    if hasattr(v, "dtype") and hasattr(v, "item") and getattr(v, "ndim", 1) == 0:
        v = v.item()  # a numpy scalar
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)  # a bad-input case such as sfi = nan: keep it readable
    return v


@dataclass
class GroupSummary:
    group: str
    title: str
    passed: int
    failed: int
    not_applicable: int
    gpa: float | None            # mean grade points (A=4 .. F=0) of graded tests
    architecture: int = 0        # tests that hold by construction (not counted above)
    verdict: Result | None = None  # the group's own verdict (KI7MT gates), when it has one

    @property
    def total(self) -> int:
        return self.passed + self.failed

    @property
    def score(self) -> float | None:
        return self.passed / self.total if self.total else None

    def line(self) -> str:
        if not self.total:
            return f"{self.title}: n/a"
        s = f"{self.title}: {self.passed}/{self.total} passed"
        if self.gpa is not None:
            s += f", grade points {self.gpa:.1f}/4"
        if self.not_applicable:
            s += f", {self.not_applicable} n/a"
        if self.architecture:
            s += f" (+{self.architecture} by construction)"
        if self.verdict is not None:
            s += f"; group {self.verdict.status.upper()} ({self.verdict.explanation.split(': ', 1)[-1]})"
        return s


@dataclass
class SuiteReport:
    source: str                  # what was verified, e.g. "best.safetensors (ionis-tui, v22)"
    results: list[Result]
    seconds: float
    forward_passes: int
    rows: int

    @property
    def groups(self) -> list[GroupSummary]:
        out = []
        for g in GROUPS:
            every = [r for r in self.results if r.group == g]
            if not every:
                continue
            rs = [r for r in every if r.counted]  # evidence about the model
            graded = [GRADE_POINTS[r.grade] for r in rs if r.grade in GRADE_POINTS]
            out.append(GroupSummary(g, GROUP_TITLES[g], sum(r.status == PASS for r in rs),
                                    sum(r.status == FAIL for r in rs), sum(r.status == NA for r in rs),
                                    sum(graded) / len(graded) if graded else None,
                                    sum(r.architecture for r in every), _verdict_of(every)))
        return out

    @property
    def passed(self) -> int:
        """Passed tests that are evidence about the model (architecture tests not counted)."""
        return sum(r.status == PASS and r.counted for r in self.results)

    @property
    def failed(self) -> int:
        return sum(r.status == FAIL and r.counted for r in self.results)

    @property
    def all_passed(self) -> bool:
        """No failure at all: a failing architecture test means broken code, so it counts here."""
        return not any(r.status == FAIL for r in self.results)

    def summary_line(self) -> str:
        """"passed n of m counted (k by construction, not counted)", then each group; a group
        that does not apply says why, and a group with its own verdict (KI7MT) says it."""
        total = self.passed + self.failed
        arch = sum(r.architecture for r in self.results)
        na = sum(r.status == NA and r.counted for r in self.results)
        s = f"passed {self.passed} of {total} counted ({arch} by construction, not counted)"
        if na:
            s += f", {na} n/a"
        return s + " · " + " · ".join(_group_text(g, self.results) for g in self.groups)


def _group_text(g: GroupSummary, results: list[Result]) -> str:
    if g.verdict is not None:
        return f"{g.group} {g.passed}/{g.total} raw, gates {g.verdict.status.upper()}"
    if g.total:
        return f"{g.group} {g.passed}/{g.total}"
    first = next((r for r in results if r.group == g.group and r.status == NA), None)
    return f"{g.group} n/a" + (f" ({first.explanation.removeprefix('n/a: ')})" if first else "")


def _verdict_of(results: list[Result]) -> Result | None:
    return next((r for r in results if r.aggregate), None)


def truth_applies(lm: LoadedModel) -> tuple[bool, str]:
    """Whether the demo generator's ground truth describes what this model was trained on."""
    if lm.kind.startswith("published"):
        return False, "published checkpoint, trained on real WSPR data: the demo generator's truth does not apply"
    meta = lm.meta or {}
    if "data_provenance" not in meta:
        return False, ("cannot tell whether this model was trained on the demo data (its metadata "
                       "has no data_provenance); force it with --truth on")
    if is_demo(meta["data_provenance"]):
        return True, ""
    table = meta.get("data_table") or meta.get("data_source") or "data of unknown provenance"
    return False, f"trained on {table}, not the demo data"


def _judge(spec: TestSpec, m: Measurement) -> Result:
    judged = {"db": m.value_db, "sigma": m.value_sigma}.get(spec.unit, m.value)
    threshold = m.threshold or spec.threshold_text
    cond = {k: v for k, v in spec.conditions.items() if k != "paths"}
    if "paths" in spec.conditions:
        cond["paths"] = [f"{p['tx']}→{p['rx']} {p['band']} {p['hour']}z m{p['month']}"
                         for p in spec.conditions["paths"]]
    flags = {"architecture": spec.architecture, "original": spec.original, "soft": spec.soft,
             "aggregate": spec.aggregate}
    if m.na:
        return Result(spec.id, spec.name, spec.group, None, None, threshold, None, None,
                      f"n/a: {m.na}", NA, None, spec.unit, cond, **flags)
    passed = m.verdict if spec.pass_rule is None else spec.pass_rule.holds(judged)
    passed = bool(passed)
    grade = None
    if spec.grades:
        gv = m.grade_value if spec.grade_on == "ratio" else judged
        grade = grade_for(gv, spec.grades)
    verdict = "PASS" if passed else "FAIL"
    why = f"{verdict}: {m.detail}"
    if judged is None or (isinstance(judged, float) and not math.isfinite(judged)):
        why += " (the measured value is undefined)"
    why += f"; rule {spec.pass_rule}{UNIT_SUFFIX[spec.unit]}" if spec.pass_rule is not None else f"; rule {threshold}"
    if grade:
        why += f"; grade {grade}"
    if spec.architecture:
        why += "; holds by construction, not counted as evidence about the model"
    if spec.aggregate:
        why += "; the group's verdict, not counted (its tests are)"
    r = Result(spec.id, spec.name, spec.group, _float(m.value_db), _float(m.value_sigma), threshold, passed,
               grade, why, PASS if passed else FAIL, _float(m.value), spec.unit, cond, **flags,
               extra=dict(m.extra))
    if m.override is not None and spec.pass_rule is not None:
        r.override_value, r.override_fired = float(m.override[0]), int(m.override[1])
        r.override_status = PASS if spec.pass_rule.holds(r.override_value) else FAIL
        r.explanation += f"; with the override {r.override_status.upper()}"
    return r


def _float(x: float | None) -> float | None:
    return None if x is None else float(x)


def run_suite(lm: LoadedModel, specs: list[TestSpec] | None = None, truth: bool | None = None,
              skill: Any = None) -> SuiteReport:
    """Run every spec (default: the shipped file). truth: None = decide from the model's metadata.
    skill: the skill group's source, a function LoadedModel -> engine.evaluate Evaluation
    (engine.evaluate.source.skill_source), or a string saying why there is none (n/a)."""
    specs = load_tests() if specs is None else specs
    truth_ok, truth_why = (truth, "switched off (--truth off)") if truth is not None else truth_applies(lm)
    evaluator = Evaluator(lm)
    evaluator.skill_source = skill
    results: list[Result] = []
    evaluator.results = results  # group verdicts (KI7MT gates) judge the results before them
    t0 = time.perf_counter()
    for spec in specs:
        if spec.group == "truth" and not truth_ok:
            m = Measurement(na=truth_why)
        else:
            try:
                m = KINDS[spec.kind].fn(evaluator, spec, spec.conditions)
            except IonisError as exc:
                # A test whose own conditions are invalid is a broken test file, not a model defect.
                raise type(exc)(f"{spec.id}: {exc}") from None
        results.append(_judge(spec, m))
    return SuiteReport(lm.label, results, time.perf_counter() - t0, evaluator.passes, evaluator.rows)


def load_tests(path=None) -> list[TestSpec]:
    """The test file (default: the shipped one) checked against this engine's kinds."""
    return load_specs(path, kinds=KINDS)
