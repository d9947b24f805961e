"""The README agrees with the code (issue 22): its key table lists every key the app binds, its
quick start is the command CI runs, its links resolve, and every option it or docs/ shows
exists in that command's parser."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
MAX_LINES = 300  # the "at most about 300 lines": a newcomer reads it top to bottom


def section(text: str, heading: str) -> str:
    """The text under `heading` (a line such as "### Keys") up to the next heading of its level
    or above."""
    level = heading.split()[0]
    lines = text.splitlines()
    start = lines.index(heading) + 1
    end = next((i for i in range(start, len(lines)) if re.match(rf"#{{1,{len(level)}}} ", lines[i])), len(lines))
    return "\n".join(lines[start:end])


def code_blocks(text: str) -> list[str]:
    return re.findall(r"^```[a-z]*\n(.*?)^```", text, flags=re.S | re.M)


def key_table(text: str) -> dict[str, set[str]]:
    """screen -> the keys its rows name (backticked, in the keys column); a blank screen cell
    continues the row above's screen."""
    out: dict[str, set[str]] = {}
    screen = ""
    for line in section(text, "### Keys").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or cells[0] in ("screen",) or set(cells[0]) <= {"-"} and cells[0]:
            continue
        screen = cells[0] or screen
        out.setdefault(screen, set()).update(re.findall(r"`([^`]+)`", cells[1]))
    return out


_TOUR: list = []


@pytest.fixture
async def stops(v22_file, tmp_path_factory):
    from key_tour import tour

    if not _TOUR:
        _TOUR.extend(await tour(tmp_path_factory.mktemp("tour"), v22_file))
    return _TOUR


async def test_readme_key_table_lists_every_key_the_app_binds(stops):
    """`b` (build) was in no key table; the matrix, verify and runs keys were prose."""
    from key_tour import all_binding_classes

    table = key_table(README.read_text())
    seen = {s.cls.__name__ for s in stops} | {name for s in stops for name in s.declared}
    assert not {c.__name__ for c in all_binding_classes()} - seen, "the key tour misses a screen"
    for stop in stops:
        assert stop.title in table, f"README key table has no row for screen {stop.title!r}: {sorted(table)}"
        for owner, keys in stop.declared.items():
            # the app's own keys (`?`) work on every screen: listed once, with the dashboard's
            where = "dashboard" if owner == "IonisApp" else stop.title
            missing = {d for d, name in keys.items() if d not in table[where] and name not in table[where]}
            assert not missing, f"README key table, {where}: keys bound by {owner} but not listed: {missing}"
    assert set(table) <= {s.title for s in stops}, f"rows for screens the app has not: {set(table) - {s.title for s in stops}}"


def ci_command() -> str:
    """The command .ci/run runs after its set-up lines (set, cd, rm, export)."""
    lines = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines()]
    cmds = [ln for ln in lines if ln and not ln.startswith("#") and not re.match(r"(set|cd|rm|export) ", ln)]
    assert len(cmds) == 1, f".ci/run should run one command, runs {cmds}"
    return cmds[0]


def test_quick_start_is_two_commands_the_second_what_ci_runs():
    """The README showed a second, different test command ("about 1 minute") in Tests."""
    text = README.read_text()
    quick = [ln for ln in code_blocks(section(text, "## Quick start"))[0].splitlines() if ln.strip()]
    assert len(quick) == 2, f"the quick start should be exactly two commands: {quick}"
    assert quick[1] == ci_command(), f"README: {quick[1]!r}\n.ci/run: {ci_command()!r}"
    assert quick[0].endswith("&& .venv/bin/ionis-tui"), "the first command should open the app"
    shown = [ln for block in code_blocks(text) for ln in block.splitlines() if "pytest" in ln and "-m slow" not in ln]
    assert shown == [quick[1]], f"the README shows other test commands: {shown}"


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    h = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return h.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", path.read_text(), flags=re.S | re.M)
    return {slug(m) for m in re.findall(r"^#+ (.+)$", text, flags=re.M)}


def test_readme_has_one_contents_and_every_link_resolves():
    """The README had three Contents lists and a link to a matrix section with no heading."""
    text = README.read_text()
    assert len(text.splitlines()) <= MAX_LINES, f"README is {len(text.splitlines())} lines"
    assert len(re.findall(r"^## Contents", text, flags=re.M)) == 1
    for src in (README, *DOCS):
        for target in re.findall(r"\]\(([^)\s]+)\)", src.read_text()):
            if target.startswith("http"):
                continue
            file, _, anchor = target.partition("#")
            path = (src.parent / file) if file else src
            assert path.exists(), f"{src.name}: link to missing {target}"
            if anchor and path.suffix == ".md":
                assert anchor in anchors(path), f"{src.name}: no heading for #{anchor} in {path.name}"
    for doc in ("docs/cli.md", "docs/benchmarks.md", "docs/ablation.md"):
        assert f"]({doc}" in section(text, "## Contents"), f"Contents does not link {doc}"


def _options(parser) -> dict[str, object]:
    """option -> its parser, for options --help shows (hidden ones are not to be documented)."""
    import argparse

    return {s: parser for a in parser._actions if a.help != argparse.SUPPRESS for s in a.option_strings}


def _parser_for(words: list[str]):
    """The (sub)parser of `ionis-tui WORDS...`: the command, and its action where it has them."""
    import argparse

    from engine.cli import build_parser

    parser = build_parser()
    for w in words:
        sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
        if sub is None or w not in sub.choices:
            break
        parser = sub.choices[w]
    return parser


def documented_commands() -> list[tuple[str, str]]:
    """(file, command line) for every `ionis-tui ...` line in a code block of README or docs/."""
    out = []
    for src in (README, *DOCS):
        for block in code_blocks(src.read_text()):
            for line in block.replace("\\\n", " ").splitlines():
                m = re.search(r"(?:^|&& |\bnohup )(?:\.venv/bin/)?ionis-tui( .*)?$", line.strip())
                if m:
                    out.append((src.name, (m.group(1) or "").split("#")[0].strip()))
    return out


def test_every_documented_option_exists():
    """`train --headless` was documented but hidden from --help (it changes nothing)."""
    found = documented_commands()
    assert len(found) > 20, found
    for src, line in found:
        words = [w for w in shlex.split(line.replace("[", " ").replace("]", " ").replace("|", " "))]
        plain = [w for w in words if not w.startswith("-") and re.fullmatch(r"[a-z]+", w)]
        parser = _parser_for(plain[:2])
        opts = _options(parser)
        for w in words:
            flag = w.split("=")[0]
            if flag.startswith("--"):
                assert flag in opts, f"{src}: `ionis-tui {line}`: {flag} is not an option of {parser.prog}"
