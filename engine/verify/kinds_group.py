"""Group verdicts judged on the results of the tests before them: the KI7MT acceptance gate.

The peer's four gates over its KI7MT group (hard tests only, soft ones are reported):
  1. raw: exactly `raw_hard_pass` hard tests pass without the override (the peer: 16 of 17);
  2. override: every hard test passes with the override;
  3. no regression: no test that passes raw fails with the override;
  4. acid: the `acid` test fails raw and passes with the override (FAIL -> PASS).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.errors import InputError
from engine.verify.evaluator import Evaluator, Measurement

if TYPE_CHECKING:
    from engine.verify.spec import TestSpec


def gate_counts(results: list[Any], group: str) -> dict[str, Any]:
    """Raw and override tallies of a group's results (hard ones for the pass counts)."""
    rs = [r for r in results if r.group == group and r.override_status is not None]
    hard = [r for r in rs if not r.soft]
    return {"hard": len(hard), "raw_pass": sum(r.status == "pass" for r in hard),
            "override_pass": sum(r.override_status == "pass" for r in hard),
            "regressions": [r.id for r in rs if r.status == "pass" and r.override_status == "fail"],
            "fired": sum(r.override_fired for r in rs), "by_id": {r.id: r for r in rs}}


def group_gates(evaluator: Evaluator, spec: TestSpec, c: dict[str, Any]) -> Measurement:
    results = getattr(evaluator, "results", [])
    n = gate_counts(results, spec.group)
    if not n["hard"]:
        return Measurement(na=f"no {spec.group} test with an override result ran before this one")
    acid_id = c["acid"]
    acid = n["by_id"].get(acid_id)
    if acid is None:
        raise InputError(f"acid test {acid_id!r} is not a {spec.group} test with an override before it")
    want = int(c["raw_hard_pass"])
    gates = [(f"raw {n['raw_pass']}/{n['hard']} (want {want}/{n['hard']})", n["raw_pass"] == want),
             (f"override {n['override_pass']}/{n['hard']} (want all)", n["override_pass"] == n["hard"]),
             (f"regressions {len(n['regressions'])}" + (f" ({', '.join(n['regressions'])})" if n["regressions"] else ""),
              not n["regressions"]),
             (f"{acid_id} {acid.status.upper()}->{acid.override_status.upper()} (want FAIL->PASS)",
              acid.status == "fail" and acid.override_status == "pass")]
    ok = sum(g for _, g in gates)
    detail = "; ".join(f"[{'PASS' if g else 'FAIL'}] {t}" for t, g in gates) + f"; override fired {n['fired']}x"
    return Measurement(value=float(ok), verdict=ok == len(gates), detail=detail,
                       threshold=f"all {len(gates)} gates",
                       extra={"raw_pass": n["raw_pass"], "override_pass": n["override_pass"], "hard": n["hard"],
                              "regressions": n["regressions"],
                              "gates": [{"gate": t, "passed": g} for t, g in gates]})
