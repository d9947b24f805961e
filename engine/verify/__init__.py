"""Physics verification suite: tests are data (tests.toml), kinds are code (kinds.py)."""

from engine.verify.report import format_value, to_json, to_markdown, write_json, write_markdown
from engine.verify.runner import GroupSummary, Result, SuiteReport, run_suite, truth_applies
from engine.verify.runner import load_tests as load_specs  # the shipped kinds, passed in
from engine.verify.spec import GROUPS, TestSpec, select

__all__ = ["GROUPS", "GroupSummary", "Result", "SuiteReport", "TestSpec", "format_value", "load_specs",
           "run_suite", "select", "to_json", "to_markdown", "truth_applies", "write_json", "write_markdown"]
