"""One data path (issue 19): spot files -> `data ingest`'s readers -> spots table ->
signatures (`data build`) or evaluation. `evaluate` reads every format ingest reads, through
the same readers and with the same filters and aggregation as the build; the demo seeder
takes the same rules; grids have one module; a skill needs enough data.

The synthetic fixtures (tests/fixtures/spots) carry the generic checks on any clone; the
figures measured on the real file of ../shared (n 13,271) have one test, skipped without it."""

from __future__ import annotations

import ast
import csv
import gzip
import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from conftest import REAL_SPOTS, SHARED
from spots_fixtures import ARCHIVE, COMBINED, FORMS, N_LONG, QUERY, ROCKS, ROCKS_REPEATS, SPOTS

from engine.cli import main
from engine.data.client import connect
from engine.settings import DatabaseSettings

ROOT = Path(__file__).resolve().parents[1]
WSPR = SHARED / "data" / "wspr"
REAL_SOURCES = (WSPR / "VU3VWB_wspr-analysis" / "VK6CQ-2023-02.csv",
                WSPR / "djsudduth_wspr-reports" / "wsprnet_query_KN0VA_2023-05.csv",
                WSPR / "hatandspecs_wspr_7510_analysis" / "7510m_wspr_spots.tsv")
DATABASE = "h19a_path"
KEYS = ("n", "pearson", "rmse_db")
# Signatures need this many spots in the module's settings: the small fixture then gives
# enough signatures (> [evaluate] min_band_rows) for signature-level figures.
MIN_SPOTS = 1
needs_real = pytest.mark.skipif(not (REAL_SPOTS.is_file() and all(p.is_file() for p in REAL_SOURCES)),
                                reason=f"real spot files not found under {WSPR} "
                                       "(shared/ must sit beside the repo)")


def _write_cfg(path: Path, chdb_path: str, min_spots: int | None = None) -> str:
    ingest = f"[ingest]\nmin_spots = {min_spots}\n" if min_spots else ""
    path.write_text(f'[database]\npath = "{chdb_path}"\ndatabase = "{DATABASE}"\ntable = "sigs"\n'
                    f'[runs]\ndir = "{path.parent / "runs"}"\n{ingest}')
    return str(path)


@pytest.fixture(scope="module")
def cfg(tmp_path_factory, chdb_path) -> str:
    connect(DatabaseSettings(path=chdb_path)).command(f"DROP DATABASE IF EXISTS {DATABASE} SYNC")
    return _write_cfg(tmp_path_factory.mktemp("path") / "settings.toml", chdb_path, MIN_SPOTS)


def _run(capsys, cfg: str, *argv: str) -> tuple[int, str, str]:
    rc = main(["--config", cfg, *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def _evaluate(capsys, cfg: str, v22_file, *source: str) -> dict:
    rc, out, err = _run(capsys, cfg, "evaluate", "--checkpoint", str(v22_file), "--climatology",
                        "none", "--json", *source)
    assert rc == 0, err
    return json.loads(out)


def _figures(rep: dict, level: str = "spots") -> dict:
    """Overall n, r, RMSE of the model and RMSE of the band-mean baseline."""
    ov = rep["levels"][level]["overall"]
    return {"n": ov["n"], **{f"model_{k}": ov["model"][k] for k in KEYS[1:]},
            "band_mean_rmse_db": ov["baselines"]["band_mean"]["rmse_db"]}


def _archive_form(src: Path, dst: Path) -> None:
    """The combined file's spots written as wsprnet.org's monthly archive: 15 columns, no
    header, unix time, frequency in MHz (wsprspots-YYYY-MM.csv)."""
    with src.open(newline="") as fh, dst.open("w") as out:
        for i, r in enumerate(csv.DictReader(fh), start=1):
            t = int(datetime.fromisoformat(r["time_utc"].replace("Z", "+00:00")).timestamp())
            mhz = f"{int(r['frequency_hz']) / 1e6:.6f}"
            out.write(",".join([str(i), str(t), r["rx_sign"], r["rx_loc"], r["snr"], mhz,
                                r["tx_sign"], r["tx_loc"], r["power_dbm"], r["drift"],
                                r["distance_km"], r["azimuth"], r["band"], "2.6.1", "0"]) + "\n")


def test_evaluate_gives_the_same_figures_for_every_form_of_the_same_spots(
        capsys, cfg, v22_file, tmp_path):
    """Must hold (issue 19): the same spots as the combined CSV, in wsprnet archive form
    (plain, gzip'd, and rewritten from the combined file), as wspr.live export, wsprnet query
    page and wspr.rocks TSV, give the same overall n, r, RMSE and band-mean RMSE, at both
    levels. On main the archive forms exited 2 (missing column time_utc / utf-8 codec)."""
    rewritten = tmp_path / "wsprspots-2023-02.csv"
    _archive_form(COMBINED, rewritten)
    gz = tmp_path / "wsprspots-2023-02.csv.gz"
    gz.write_bytes(gzip.compress(ARCHIVE.read_bytes()))
    combined = _evaluate(capsys, cfg, v22_file, "--spots", str(COMBINED))
    want = _figures(combined)
    # several bands graded, and short paths left out, in every form alike
    assert want["n"] == N_LONG < len(SPOTS) and want["model_rmse_db"] > 0
    assert combined["rows"]["dropped"] == {"distance": len(SPOTS) - N_LONG}
    assert {b for b, v in combined["levels"]["spots"]["bands"].items() if "model" in v} >= {"20m", "30m"}
    for form in (rewritten, gz, *FORMS.values()):
        rep = _evaluate(capsys, cfg, v22_file, "--spots", str(form))
        assert _figures(rep) == want, form.name
        assert _figures(rep, "signatures") == _figures(combined, "signatures"), form.name
        assert rep["levels"]["spots"]["bands"] == combined["levels"]["spots"]["bands"], form.name
        dup = ROCKS_REPEATS if form == ROCKS else 0
        assert rep["rows"]["dropped"].get("duplicate spot", 0) == dup, form.name
    both = _evaluate(capsys, cfg, v22_file, "--spots", str(ARCHIVE), str(QUERY))
    assert _figures(both) == want and both["rows"]["dropped"]["duplicate spot"] == len(SPOTS)


@needs_real
def test_every_form_of_the_real_spots_gives_the_real_files_figures(capsys, chdb_path, v22_file,
                                                                   tmp_path):
    """The same on the real file of ../shared (its measured figure n 13,271): the combined CSV,
    its wsprnet archive form plain and gzip'd, and the three source files it was made from
    (wsprnet archive, query CSV, wspr.rocks TSV)."""
    cfg = _write_cfg(tmp_path / "real.toml", chdb_path)
    plain = tmp_path / "wsprspots-2023-02.csv"
    _archive_form(REAL_SPOTS, plain)
    gz = tmp_path / "wsprspots-2023-02.csv.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    combined = _evaluate(capsys, cfg, v22_file, "--spots", str(REAL_SPOTS))
    want = _figures(combined)
    assert want["n"] == 13271 and want["model_rmse_db"] > 0
    for form in (plain, gz):
        rep = _evaluate(capsys, cfg, v22_file, "--spots", str(form))
        assert _figures(rep) == want, form.name
        assert _figures(rep, "signatures") == _figures(combined, "signatures"), form.name
    sources = _evaluate(capsys, cfg, v22_file, "--spots", *map(str, REAL_SOURCES))
    assert _figures(sources) == want
    assert sources["rows"]["dropped"]["duplicate spot"] == 4  # wspr.rocks repeats 4 lines


@pytest.fixture(scope="module")
def built(cfg):
    """The combined fixture ingested and built with the CLI: spots table + signature table."""
    assert main(["--config", cfg, "data", "ingest", str(COMBINED)]) == 0
    assert main(["--config", cfg, "data", "build"]) == 0
    return cfg


def test_evaluate_reads_a_spots_table_like_the_file_and_the_built_signatures(
        capsys, built, v22_file):
    """`evaluate --table spots` (the table ingest fills) gives the file's figures; its
    signature level is what `data build` wrote (same SQL, classes and min_spots); on main a
    spots table was refused as not matching the signature schema."""
    from_file = _evaluate(capsys, built, v22_file, "--spots", str(COMBINED))
    from_table = _evaluate(capsys, built, v22_file, "--table", "spots")
    assert _figures(from_table) == _figures(from_file)
    assert _figures(from_table, "signatures") == _figures(from_file, "signatures")
    built_sigs = _evaluate(capsys, built, v22_file, "--table", "sigs")
    a, b = _figures(built_sigs, "signatures"), _figures(from_table, "signatures")
    assert a["n"] == b["n"] > 100
    for k in ("model_pearson", "model_rmse_db", "band_mean_rmse_db"):
        assert a[k] == pytest.approx(b[k], abs=2e-4), k
    assert from_table["rules"] == from_file["rules"] and from_table["rules"]["min_spots"] == MIN_SPOTS


def test_from_to_select_months_of_spot_files_and_tables(capsys, built, v22_file):
    """On main --from/--to printed "cannot read yet"."""
    feb = _evaluate(capsys, built, v22_file, "--table", "spots", "--from", "2023-02", "--to", "2023-02")
    feb_file = _evaluate(capsys, built, v22_file, "--spots", str(COMBINED), "--from", "2023-02",
                         "--to", "2023-02")
    assert _figures(feb) == _figures(feb_file)
    may = sum(s["time"].month == 5 for s in SPOTS)
    assert feb["rows"]["dropped"]["to"] == may > 0  # the May 2023 spots
    assert 0 < _figures(feb)["n"] < len(SPOTS) - may
    # a signature table has months of the year: Feb keeps only the February signatures
    sig = _evaluate(capsys, built, v22_file, "--table", "sigs", "--from", "2023-02", "--to", "2023-02")
    all_sig = _evaluate(capsys, built, v22_file, "--table", "sigs")
    assert 0 < sig["levels"]["signatures"]["n"] < all_sig["levels"]["signatures"]["n"]
    assert "kept months 2" in " ".join(sig["notes"])


def test_build_and_seed_show_the_aggregation_parameters(capsys, built, chdb_path):
    rc, out, _ = _run(capsys, built, "data", "build", "--json")
    rules = json.loads(out)["rules"]
    assert rc == 0 and rules["min_spots"] == MIN_SPOTS and rules["kp_class_edges"] == [0, 2, 3, 4, 5]
    rc, out, _ = _run(capsys, built, "data", "build", "--min-spots", "3")
    assert rc == 0 and "aggregation: >= 3 spots" in out


def test_the_seeder_takes_min_spots_from_the_settings(tmp_path, chdb_path, capsys):
    from engine.data.provenance import read_provenance

    p = tmp_path / "settings.toml"
    p.write_text(f'[database]\npath = "{chdb_path}"\ndatabase = "h19a_seed"\ntable = "sigs"\n'
                 f'[ingest]\nmin_spots = 9\n')
    rc, out, err = _run(capsys, str(p), "data", "seed", "--rows", "3000", "--force")
    assert rc == 0, err
    assert "aggregation: >= 9 spots" in out
    db = DatabaseSettings(path=chdb_path, database="h19a_seed", table="sigs")
    n, least = connect(db).query(f"SELECT count(), min(spot_count) FROM {db.qualified_table}").result_rows[0]
    assert n == 3000 and least == 9  # the demo default (5) would give rows with 5..8 spots
    assert read_provenance(connect(db), db).params["rules"]["min_spots"] == 9


def test_sql_classes(chdb_path):
    """The Kp and SFI classes of the one aggregation (build, evaluate and the seeder)."""
    from engine.data.aggregation import KP_CLASS_SQL, SFI_CLASS_SQL

    vals = [0.0, 1.9, 2.0, 2.3, 3.0, 3.99, 4.0, 5.0, 9.0, 79.9, 80.0, 110.0, 149.9, 150.0, 300.0]
    rows = connect(DatabaseSettings(path=chdb_path)).query(
        f"SELECT {KP_CLASS_SQL}, {SFI_CLASS_SQL} FROM (SELECT arrayJoin({vals}) AS kp, kp AS sfi)"
    ).result_rows
    assert [r[0] for r in rows] == [0, 0, 1, 1, 2, 2, 3, 4, 4, 4, 4, 4, 4, 4, 4]
    assert [r[1] for r in rows] == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 2, 3, 3]


# Text that decodes or validates a Maidenhead locator: only engine/grids.py may hold it.
GRID_MARKERS = ("[A-Ra-r]{2}", "[A-R]{2}", "- 65) * 20", "- 65) * 10", "-65)*20")


def test_one_grid_module():
    """Grid parsing/validation lived in about eight places on main (geo, loader, spot_sql,
    bundle_import, the seeder, evaluate's run and observations, the bench)."""
    offenders = []
    for pkg in ("engine", "ionis_tui", "bench"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            if path.relative_to(ROOT).as_posix() == "engine/grids.py":
                continue
            text = path.read_text(encoding="utf-8")
            offenders += [f"{path.relative_to(ROOT)}: {m}" for m in GRID_MARKERS if m in text]
    assert offenders == []


def test_evaluate_has_one_spot_reader():
    """No CSV parsing and no numpy aggregation of spots left in engine/evaluate."""
    for path in sorted((ROOT / "engine" / "evaluate").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert "csv" not in names, path.name
    assert not (ROOT / "engine" / "evaluate" / "aggregate.py").exists()


def test_too_few_spots_make_skill_na_with_the_count(capsys, cfg, v22_file, tmp_path):
    """A 1-spot file: every skill is n/a with the count, not graded (on main SKILL-A graded
    it: skill -858)."""
    from engine.checkpoint import load_model
    from engine.evaluate.observations import load_observations
    from engine.evaluate.run import evaluate
    from engine.settings import load_settings
    from engine.verify import load_specs, run_suite, select

    one = tmp_path / "one.csv"
    one.write_text("".join(COMBINED.read_text().splitlines(keepends=True)[:2]))
    rep = _evaluate(capsys, cfg, v22_file, "--spots", str(one))
    ov = rep["levels"]["spots"]["overall"]
    assert ov["n"] == 1 and "only 1 rows" in ov["na"] and "100" in ov["na"]
    obs = load_observations(load_settings(cfg), spots=one)
    lm = load_model(v22_file)
    res = run_suite(lm, select(load_specs(), ["skill"]),
                    skill=lambda m: evaluate(m, obs, "none", levels=("spots",)))
    r = {x.id: x for x in res.results}
    assert r["SKILL-A"].status == "n/a" and "only 1 rows" in r["SKILL-A"].explanation
    assert all(x.status == "n/a" for x in res.results)
    # enough spots: graded as before
    full = np.array([x.status for x in run_suite(
        lm, select(load_specs(), ["skill"]),
        skill=lambda m: evaluate(m, load_observations(load_settings(cfg), spots=COMBINED),
                                 "none", levels=("spots",))).results])
    assert (full != "n/a").any()


# sha256 of generate_signatures(3000, seed=5) sorted by key (_sorted_hash), as the numpy
# aggregation gave it before the seeder moved to the SQL (tests that pin the demo depend on it)
DEMO_3000_5 = "cb6fec7afc9c24178cb9db747f0f0a524be28835534af9c43ef8d27e4b559ed7"
SIG_NAMES = ("tx_grid_4", "rx_grid_4", "band", "hour", "month", "median_snr", "spot_count",
             "snr_std", "reliability", "avg_sfi", "avg_kp", "avg_distance", "avg_azimuth")


def _sorted_hash(cols: dict) -> str:
    import hashlib

    order = np.lexsort(tuple(cols[k] for k in ("avg_sfi", "avg_kp", "month", "hour", "band",
                                               "rx_grid_4", "tx_grid_4")))
    h = hashlib.sha256()
    for k in SIG_NAMES:
        h.update(np.ascontiguousarray(cols[k][order]).tobytes())
    return h.hexdigest()


def test_the_seeder_aggregates_with_the_builds_sql(chdb_path, monkeypatch):
    """The demo seeder's signatures come from engine.data.aggregation.signatures_sql (the SQL
    of `data build` and `evaluate`) with the seeder's filters; no numpy aggregation is left;
    and the table is the one the seeder wrote before (issue 19)."""
    import engine.data.aggregation as agg
    from engine.demo import seed_sql
    from engine.demo.seed import SEED_FILTERS, generate_signatures

    calls = []

    def spy(rows, filters, min_spots):
        calls.append((filters, min_spots))
        return agg.signatures_sql(rows, filters, min_spots)

    db = DatabaseSettings(path=chdb_path, database=DATABASE, table="seeded")
    monkeypatch.setattr(seed_sql, "signatures_sql", spy)
    cols = generate_signatures(connect(db), db, 3000, seed=5)
    assert calls and all(c == (SEED_FILTERS, 5) for c in calls)
    assert _sorted_hash(cols) == DEMO_3000_5
    for name in ("kp_class", "sfi_class", "space_class"):
        assert not hasattr(agg, name), name
    for path in sorted((ROOT / "engine" / "demo").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        defs = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        assert "aggregate" not in defs, path.name


def test_a_table_that_is_neither_is_refused_naming_what_it_lacks(capsys, cfg, v22_file, chdb_path):
    db = DatabaseSettings(path=chdb_path, database=DATABASE)
    client = connect(db)
    client.command(f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
    client.command(f"CREATE TABLE IF NOT EXISTS {DATABASE}.other (a Int32) ENGINE = MergeTree ORDER BY a")
    rc, _, err = _run(capsys, cfg, "evaluate", "--checkpoint", str(v22_file), "--table", "other")
    assert rc == 2 and err.count("\n") == 1
    assert "neither a signature table (lacks tx_grid_4" in err and "nor a spots table" in err
