"""Pass rules and grade thresholds written as short strings in the test file.

Grammar: `[abs] OP NUMBER` with OP one of > >= < <= ==, or `in A..B` (inclusive; for
hours, A > B means a window that wraps midnight, e.g. `in 22..6`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from engine.errors import InputError

_CMP = re.compile(r"^\s*(abs\s+)?(>=|<=|==|>|<)\s*([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*$")
_IN = re.compile(r"^\s*in\s+([-+]?[0-9]*\.?[0-9]+)\s*\.\.\s*([-+]?[0-9]*\.?[0-9]+)\s*$")
_SHOW = {">=": "≥", "<=": "≤", "==": "=", ">": ">", "<": "<"}


@dataclass(frozen=True)
class Rule:
    op: str                 # ">", ">=", "<", "<=", "==" or "in"
    value: float            # the bound (lower bound for "in")
    upper: float = math.nan  # upper bound for "in"
    absolute: bool = False  # compare |x| instead of x

    def holds(self, x: float | None) -> bool:
        # None or NaN never satisfies a rule: an undefined measurement is a failure, not a pass.
        if x is None or not math.isfinite(x):
            return False
        if self.absolute:
            x = abs(x)
        if self.op == "in":
            lo, hi = self.value, self.upper
            return lo <= x <= hi if lo <= hi else (x >= lo or x <= hi)
        return {">": x > self.value, ">=": x >= self.value, "<": x < self.value,
                "<=": x <= self.value, "==": x == self.value}[self.op]

    def __str__(self) -> str:
        if self.op == "in":
            return f"in {self.value:g}..{self.upper:g}"
        return f"{'|x| ' if self.absolute else ''}{_SHOW[self.op]} {self.value:g}"


def parse_rule(text: str, where: str = "rule") -> Rule:
    s = str(text)
    m = _CMP.match(s)
    if m:
        return Rule(m.group(2), float(m.group(3)), absolute=bool(m.group(1)))
    m = _IN.match(s)
    if m:
        return Rule("in", float(m.group(1)), float(m.group(2)))
    raise InputError(f"{where}: cannot read rule {text!r} (write e.g. '> 0', '>= -0.5', 'abs < 5', 'in 10..16')")


GRADE_LETTERS = ("A", "B", "C", "D")


def grade_for(x: float | None, grades: tuple[Rule, ...]) -> str:
    """First letter whose rule holds, else F; grades are ordered A, B, C, D."""
    for letter, rule in zip(GRADE_LETTERS, grades, strict=False):
        if rule.holds(x):
            return letter
    return "F"
