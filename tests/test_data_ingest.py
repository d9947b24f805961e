"""`data ingest|sw|build` on the synthetic spot fixtures (tests/fixtures/spots: the same
invented spots in every format), on real chdb: counts, dedup, every refused input (exit 2,
tables unchanged), the SQL join, and the end to end path ingest -> build -> train --headless.
The real spot files of ../shared are read by one test (their figures), skipped without them."""

from __future__ import annotations

import csv
import gzip
import json
import statistics
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED
from spots_fixtures import ARCHIVE, COMBINED, N_LONG, QUERY, ROCKS, SPOTS, TX_GRID, WSPRLIVE, N

from engine.cli import main
from engine.data.aggregation import KP_CLASS_EDGES, SFI_CLASS_EDGES
from engine.data.client import connect
from engine.data.spot_formats import sniff
from engine.demo.space_weather import observed_days
from engine.settings import DatabaseSettings

WSPR = SHARED / "data" / "wspr"
DATABASE = "h8_ingest"
MAY = sum(s["time"].month == 5 for s in SPOTS)


def _config(tmp_path: Path, chdb_path: str, database: str = DATABASE) -> str:
    p = tmp_path / "settings.toml"
    p.write_text(f'[database]\npath = "{chdb_path}"\ndatabase = "{database}"\n'
                 f'table = "sigs"\n[train]\nbatch_size = 128\ndevice = "cpu"\n'
                 f'[runs]\ndir = "{tmp_path / "runs"}"\n')
    return str(p)


def _run(capsys, cfg: str, *argv: str) -> tuple[int, str, str]:
    rc = main(["--config", cfg, *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def _count(chdb_path: str, table: str, database: str = DATABASE) -> int:
    client = connect(DatabaseSettings(path=chdb_path))
    n = client.query("SELECT count() FROM system.tables WHERE database = {d:String} AND "
                     "name = {t:String}", parameters={"d": database, "t": table}).result_rows
    if not n[0][0]:
        return -1
    return int(client.query(f"SELECT count() FROM `{database}`.`{table}`").result_rows[0][0])


def _head(path: Path, n: int) -> list[str]:
    with path.open() as fh:
        return [next(fh).rstrip("\n") for _ in range(n)]


def _wsprlive_file(tmp_path: Path) -> Path:
    """The wspr.live fixture written tab-separated (wspr.live exports CSV or TSV)."""
    out = tmp_path / "wsprlive.tsv"
    out.write_text(WSPRLIVE.read_text().replace(",", "\t"))
    return out


def test_sniff_knows_every_shipped_format(tmp_path):
    assert sniff(ARCHIVE).fmt.name == "wsprnet"
    assert sniff(QUERY).fmt.name == "wsprnet-query"
    assert sniff(ROCKS).fmt.name == "wsprrocks"
    assert sniff(COMBINED).fmt.name == "combined"
    assert sniff(WSPRLIVE).fmt.name == "wsprlive"
    tsv = sniff(_wsprlive_file(tmp_path))
    assert tsv.fmt.name == "wsprlive" and tsv.delimiter == "\t"
    gz = tmp_path / "x.csv.gz"
    gz.write_bytes(gzip.compress(ARCHIVE.read_bytes()))
    s = sniff(gz)
    assert s.fmt.name == "wsprnet" and s.compression == "gzip"


REAL = {"wsprnet": WSPR / "VU3VWB_wspr-analysis" / "VK6CQ-2023-02.csv",
        "wsprnet-query": WSPR / "djsudduth_wspr-reports" / "wsprnet_query_KN0VA_2023-05.csv",
        "wsprrocks": WSPR / "hatandspecs_wspr_7510_analysis" / "7510m_wspr_spots.tsv",
        "combined": WSPR / "wspr_spots_real.csv"}


@pytest.mark.skipif(not all(p.is_file() for p in REAL.values()),
                    reason=f"real spot files not found under {WSPR} (shared/ must sit beside the repo)")
def test_the_real_source_files_dedup_into_the_combined_file(chdb_path, capsys, tmp_path):
    """The shipped real files: each sniffed as its format; the three sources add 6,426 +
    2,631 + 4,996 spots (wspr.rocks repeats 4 of its 5,000 lines), and the combined file,
    their union, adds nothing."""
    db = "h22c_real_ingest"
    connect(DatabaseSettings(path=chdb_path)).command(f"DROP DATABASE IF EXISTS {db} SYNC")
    assert {name: sniff(p).fmt.name for name, p in REAL.items()} == {k: k for k in REAL}
    cfg = _config(tmp_path, chdb_path, db)
    rc, _, err = _run(capsys, cfg, "data", "ingest", *(str(REAL[k]) for k in
                                                      ("wsprnet", "wsprnet-query", "wsprrocks")))
    assert rc == 0, err
    assert _count(chdb_path, "spots", db) == 6426 + 2631 + 4996 == 14053
    rc, _, err = _run(capsys, cfg, "data", "ingest", str(REAL["combined"]))
    assert rc == 2 and "duplicate file" in err and "14,053 spots are already" in err


@pytest.fixture(scope="module")
def ingested(chdb_path, tmp_path_factory):
    """The same spots in three formats ingested in one call into a fresh database."""
    tmp = tmp_path_factory.mktemp("ingest")
    connect(DatabaseSettings(path=chdb_path)).command(f"DROP DATABASE IF EXISTS {DATABASE} SYNC")
    cfg = _config(tmp, chdb_path)
    rc = main(["--config", cfg, "data", "ingest", "--json", str(ARCHIVE), str(QUERY), str(ROCKS)])
    assert rc == 0
    return cfg


def test_ingest_counts_every_file_and_dedups_across_formats(ingested, chdb_path, capsys, tmp_path):
    # three formats of the same spots (wspr.rocks repeating two lines) are the spots once;
    # the combined file holds them too, so it adds nothing and is refused as a duplicate file.
    assert _count(chdb_path, "spots") == N
    rc, _, err = _run(capsys, ingested, "data", "ingest", str(COMBINED))
    assert rc == 2 and "duplicate file" in err and f"all {N:,} spots are already" in err
    rc, _, err = _run(capsys, ingested, "data", "ingest", str(ARCHIVE), str(ARCHIVE))
    assert rc == 2 and "given twice" in err
    assert _count(chdb_path, "spots") == N
    # the same spots in wspr.live's layout (CSV and TSV) are the same spots
    for live in (WSPRLIVE, _wsprlive_file(tmp_path)):
        rc, _, err = _run(capsys, ingested, "data", "ingest", str(live))
        assert rc == 2 and "duplicate file" in err, live


def test_spot_rows_carry_the_days_sfi_and_the_blocks_kp(ingested, chdb_path):
    from engine.data.aggregation import spot_rows_sql

    db = DatabaseSettings(path=chdb_path, database=DATABASE, table="sigs")
    rows = connect(db).query(
        f"SELECT time, sfi, kp, tx_grid_4, tx_lat, tx_lon, band, hour, month, doy FROM "
        f"({spot_rows_sql(db, 'spots', 'space_weather')}) WHERE tx_sign = 'Q1AA' "
        f"AND band = 106 ORDER BY time LIMIT 40").result_rows
    assert len(rows) > 30  # the fixture's Q1AA (FN31) sends on 30m on many days
    days = observed_days()
    index = {str(d): i for i, d in enumerate(days.dates)}
    for t, sfi, kp, g, lat, lon, band, hour, month, doy in rows:
        i = index[t.strftime("%Y-%m-%d")]
        assert sfi == pytest.approx(float(days.sfi[i]))
        assert kp == pytest.approx(float(days.kp[i, t.hour // 3]))
        assert (g, lat, lon, band) == (b"FN31", pytest.approx(41.5), pytest.approx(-73.0), 106)
        assert (hour, month, doy) == (t.hour, t.month, t.timetuple().tm_yday)


def test_build_keys_the_kp_and_sfi_classes_like_the_demo_seeder():
    from engine.data.aggregation import class_sql
    from engine.demo.seed import KP_CLASS_EDGES as DEMO_EDGES
    from engine.demo.seed import SFI_CLASS_EDGES as DEMO_SFI_EDGES

    assert KP_CLASS_EDGES == DEMO_EDGES and SFI_CLASS_EDGES == DEMO_SFI_EDGES
    assert class_sql("sfi", (0.0, 80.0, 110.0)) == "multiIf(sfi < 80, 0, sfi < 110, 1, 2)"


def test_build_matches_a_direct_computation_from_the_file(ingested, chdb_path, capsys):
    rc, out, err = _run(capsys, ingested, "data", "build", "--json")
    assert rc == 0, err
    rep = json.loads(out)
    assert rep["signatures"] > 0 and rep["dropped"]["distance"] == N - N_LONG > 0
    # Q1AA (FN31) -> every receiver in IO91 on 30m at 12 UTC in February, from the CSV
    rows = [c for c in csv.reader(ARCHIVE.open())
            if c[7][:4] == "FN31" and c[3][:4].upper() == "IO91" and c[12] == "10"
            and datetime.fromtimestamp(int(c[1]), UTC).hour == 12
            and datetime.fromtimestamp(int(c[1]), UTC).month == 2 and int(c[10]) >= 500]
    # Buckets are also split by the Kp class of each spot's 3-hour block and the SFI class of
    # its day: take the largest class.
    days = observed_days()
    index = {str(d): i for i, d in enumerate(days.dates)}

    def space_class(c) -> tuple[int, int]:
        t = datetime.fromtimestamp(int(c[1]), UTC)
        i = index[t.strftime("%Y-%m-%d")]
        kp, sfi = float(days.kp[i, t.hour // 3]), float(days.sfi[i])
        return (int(np.searchsorted(np.array(KP_CLASS_EDGES[1:]), kp, side="right")),
                int(np.searchsorted(np.array(SFI_CLASS_EDGES[1:]), sfi, side="right")))
    classes = [space_class(c) for c in rows]
    biggest = max(set(classes), key=classes.count)
    rows = [c for c, k in zip(rows, classes, strict=True) if k == biggest]
    snrs = [int(c[4]) for c in rows]
    db = DatabaseSettings(path=chdb_path, database=DATABASE, table="sigs")
    lo, hi = KP_CLASS_EDGES[biggest[0]], (KP_CLASS_EDGES + (99.0,))[biggest[0] + 1]
    slo, shi = SFI_CLASS_EDGES[biggest[1]], (SFI_CLASS_EDGES + (9999.0,))[biggest[1] + 1]
    row = connect(db).query(
        "SELECT median_snr, spot_count, snr_std, reliability, avg_distance FROM "
        f"{db.qualified_table} WHERE tx_grid_4 = 'FN31' AND rx_grid_4 = 'IO91' AND band = 106 "
        f"AND hour = 12 AND month = 2 AND avg_kp >= {lo} AND avg_kp < {hi} "
        f"AND avg_sfi >= {slo} AND avg_sfi < {shi}").result_rows[0]
    assert len(set(classes)) > 1  # the split is exercised: these spots span several classes
    assert row[0] == pytest.approx(statistics.median(snrs))
    assert row[1] == len(snrs)
    assert row[2] == pytest.approx(float(np.std(snrs)), rel=1e-5)
    assert row[3] == pytest.approx(sum(s > -20 for s in snrs) / len(snrs))
    assert row[4] == round(sum(int(c[10]) for c in rows) / len(rows))


def test_status_reports_spots_and_provenance(ingested, chdb_path, capsys):
    assert _run(capsys, ingested, "data", "build")[0] == 0
    rc, out, _ = _run(capsys, ingested, "data", "status", "--json")
    st = json.loads(out)
    assert rc == 0 and st["provenance"]["kind"] == "spots"
    assert st["provenance"]["params"]["first_spot"].startswith("2023-02-01")
    sp = st["spots_table"]
    assert sp["rows"] == N and sp["first"].startswith("2023-02-01")
    assert sp["bands"]["30m"] == sum(s["band"] == "30m" for s in SPOTS) > 100
    assert sp["tx_stations"] == len(TX_GRID)
    # a table built from spots is no demo data: `data seed` refuses to replace it
    rc, _, err = _run(capsys, ingested, "data", "seed", "--rows", "100")
    assert rc == 2 and "refusing" in err and "written by `data build`" in err


def test_build_holds_out_months_and_a_failed_build_keeps_the_table(ingested, chdb_path, capsys):
    rc, out, _ = _run(capsys, ingested, "data", "build", "--from", "2023-05", "--to", "2023-05",
                      "--json", "--table", "sigs_may", "--min-spots", "1")
    rep = json.loads(out)
    assert rc == 0 and rep["in_span"] == MAY > 0 and rep["last_spot"].startswith("2023-05")
    before = _count(chdb_path, "sigs_may")
    for args, needle in ((("--from", "2030-01"), "no signatures"),
                         (("--from", "2023-13"), "use YYYY-MM"),
                         (("--from", "2023-06", "--to", "2023-05"), "is after"),
                         (("--table", "bad-name"), "plain name")):
        rc, _, err = _run(capsys, ingested, "data", "build", "--table", "sigs_may", *args)
        last = err.strip().splitlines()[-1]
        assert rc == 2 and needle in last and last.startswith("error: "), err
    assert _count(chdb_path, "sigs_may") == before


def _bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    lines = _head(ARCHIVE, 200)

    def write(name: str, rows: list[str]) -> Path:
        p = tmp_path / name
        p.write_text("\n".join(rows) + "\n")
        return p

    def every(k: int, fn) -> list[str]:  # corrupt every k-th line
        return [fn(ln.split(",")) if i % k == k - 1 else ln for i, ln in enumerate(lines)]

    trunc = tmp_path / "trunc.csv.gz"
    whole = gzip.compress(ARCHIVE.read_bytes())
    trunc.write_bytes(whole[:len(whole) // 2])
    d = tmp_path / "adir.csv"
    d.mkdir()
    return {
        "unknown format": (write("junk.csv", ["hello world", "1,2"]), "known formats: wsprnet"),
        "truncated gzip": (trunc, "truncated or corrupt gzip"),
        "wrong column count": (write("cols.csv", every(5, lambda c: ",".join(c[:12]))),
                               "wrong column count"),
        "non-numeric SNR": (write("snr.csv", every(4, lambda c: ",".join(c[:4] + ["loud"] + c[5:]))),
                            "non-numeric SNR"),
        "grid ZZ99": (write("grid.csv", every(3, lambda c: ",".join(c[:7] + ["ZZ99"] + c[8:]))),
                      "bad TX grid"),
        "frequency outside any band": (
            write("freq.csv", every(2, lambda c: ",".join(c[:5] + ["12.345"] + c[6:]))),
            "frequency outside every amateur band"),
        "empty file": (_empty(tmp_path), "file is empty"),
        "directory": (d, "is a directory"),
        "missing": (tmp_path / "nope.csv", "no such file"),
    }


def _empty(tmp_path: Path) -> Path:
    p = tmp_path / "empty0.csv"
    p.write_bytes(b"")
    return p


def test_every_bad_input_is_refused_and_changes_nothing(ingested, chdb_path, capsys, tmp_path):
    spots, sigs = _count(chdb_path, "spots"), _count(chdb_path, "sigs")
    bad = _bad_files(tmp_path)
    for what, (path, needle) in bad.items():
        rc, _, err = _run(capsys, ingested, "data", "ingest", str(path))
        assert rc == 2, what
        last = err.strip().splitlines()[-1]  # after the progress lines
        assert last.startswith("error: ") and needle in last and err.count("error") == 1, (what, err)
        assert (_count(chdb_path, "spots"), _count(chdb_path, "sigs")) == (spots, sigs), what
    # a bad file beside a good one: the good one is not kept either
    rc, _, err = _run(capsys, ingested, "data", "ingest", str(_wsprlive_file(tmp_path)),
                      str(bad["grid ZZ99"][0]))
    assert rc == 2 and _count(chdb_path, "spots") == spots


def test_a_few_bad_lines_are_counted_with_line_numbers(chdb_path, capsys, tmp_path):
    db = "h8_ingest_few"
    connect(DatabaseSettings(path=chdb_path)).command(f"DROP DATABASE IF EXISTS {db} SYNC")
    lines = ARCHIVE.read_text().splitlines()
    assert lines[41].split(",")[4].startswith("-")
    lines[41] = lines[41].replace(",-", ",x", 1)  # SNR field of line 42
    lines.insert(100, "2,3")                        # line 101
    p = tmp_path / "few.csv"
    p.write_text("\n".join(lines) + "\n")
    cfg = _config(tmp_path, chdb_path, db)
    rc, out, err = _run(capsys, cfg, "data", "ingest", "--max-bad-share", "0.01", "--json", str(p))
    f = json.loads(out)["files"][0]
    assert rc == 0 and f["malformed"] == 2 and f["spots"] == N - 1 and f["new"] == N - 1
    assert [(e["line"], e["reason"]) for e in f["examples"]] == [
        (42, "non-numeric SNR"), (101, "wrong column count")]
    rc, _, err = _run(capsys, cfg, "data", "ingest", "--max-bad-share", "0.001", str(p))
    assert rc == 2 and "line 42: non-numeric SNR" in err


def test_spots_outside_space_weather_are_reported_not_invented(chdb_path, capsys, tmp_path):
    from engine.data.sw_table import fill_space_weather
    from engine.demo.space_weather import ObservedDays

    db = "h8_ingest_sw"
    connect(DatabaseSettings(path=chdb_path)).command(f"DROP DATABASE IF EXISTS {db} SYNC")
    days = observed_days()
    keep = days.dates < np.datetime64("2023-02-10")  # the fixture runs through February and May
    part = ObservedDays(days.year[keep], days.month[keep], days.doy[keep], days.sfi[keep],
                        days.kp[keep], days.dates[keep], days.sfi_adj[keep])
    dbs = DatabaseSettings(path=chdb_path, database=db, table="sigs")
    fill_space_weather(connect(dbs), dbs, "space_weather", part)
    cfg = _config(tmp_path, chdb_path, db)
    rc, out, _ = _run(capsys, cfg, "data", "ingest", "--json", str(ARCHIVE))
    rep = json.loads(out)
    late = sum(1 for c in csv.reader(ARCHIVE.open()) if int(c[1]) >= 1675987200)  # 2023-02-10
    assert rc == 0 and rep["spots_without_space_weather"] == late > 0
    rc, out, _ = _run(capsys, cfg, "data", "build", "--json")
    assert rc == 0 and json.loads(out)["dropped"]["space_weather"] == late
    sigs = connect(dbs).query(f"SELECT min(avg_sfi) FROM {dbs.qualified_table}").result_rows
    assert sigs[0][0] > 0


@pytest.mark.usefixtures("one_torch_thread")
def test_end_to_end_small_spot_file_to_two_epochs(chdb_path, capsys, tmp_path):
    db = "h8_ingest_e2e"
    connect(DatabaseSettings(path=chdb_path)).command(f"DROP DATABASE IF EXISTS {db} SYNC")
    cfg = _config(tmp_path, chdb_path, db)
    gz = tmp_path / "wsprspots-2023-02.csv.gz"  # the query page file, gzipped
    gz.write_bytes(gzip.compress(QUERY.read_bytes()))
    assert _run(capsys, cfg, "data", "ingest", str(gz))[0] == 0
    rc, out, err = _run(capsys, cfg, "data", "build", "--min-spots", "1", "--json")
    assert rc == 0, err
    built = json.loads(out)["signatures"]
    rc, out, err = _run(capsys, cfg, "train", "--headless", "--epochs", "2", "--run-dir",
                        str(tmp_path / "run"))
    assert rc == 0, err
    assert f"{built:,} rows loaded" in err  # every built signature is usable training data
    epochs = [ln for ln in out.splitlines() if ln.startswith("epoch ")]
    assert [ln.split()[1] for ln in epochs] == ["1/2", "2/2"]
    from safetensors import safe_open

    best = next((tmp_path / "run").glob("*.safetensors"))
    with safe_open(str(best), "pt") as fh:
        assert "built from spots 2023-02-01" in fh.metadata()["data_source"]


@pytest.mark.parametrize("argv", [("data", "ingest", str(ARCHIVE)), ("data", "sw"), ("data", "build")])
def test_unreachable_server_is_one_clear_error(tmp_path, capsys, argv):
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cfg = tmp_path / "server.toml"
    cfg.write_text(f'[database]\nmode = "server"\nhost = "127.0.0.1"\nport = {port}\n'
                   f'connect_timeout = 3\n')
    rc, _, err = _run(capsys, str(cfg), *argv)
    assert rc == 2 and err.startswith("error: cannot reach the ClickHouse server at 127.0.0.1")


def test_a_file_spanning_150_months_is_ingested_whole(chdb_path, capsys, tmp_path):
    # ClickHouse refuses more than 100 partitions (months) in one INSERT block by default
    db = "h19_ingest_months"
    connect(DatabaseSettings(path=chdb_path)).command(f"DROP DATABASE IF EXISTS {db} SYNC")
    out = []
    for i, line in enumerate(_head(ARCHIVE, 150)):
        c = line.split(",")
        c[1] = str(int(datetime(2008 + i // 12, i % 12 + 1, 15, tzinfo=UTC).timestamp()))
        out.append(",".join(c))
    p = tmp_path / "months.csv"
    p.write_text("\n".join(out) + "\n")
    cfg = _config(tmp_path, chdb_path, db)
    rc, out_json, err = _run(capsys, cfg, "data", "ingest", "--json", str(p))
    assert rc == 0, err
    assert json.loads(out_json)["rows_added"] == 150 == _count(chdb_path, "spots", db)


def test_status_with_spots_but_no_signature_table_reports_what_exists(chdb_path, capsys,
                                                                      tmp_path):
    db = "h19_status_spots_only"
    connect(DatabaseSettings(path=chdb_path)).command(f"DROP DATABASE IF EXISTS {db} SYNC")
    cfg = _config(tmp_path, chdb_path, db)
    # nothing at all yet: it could look, so it reports (all missing) and exits 0
    rc, text, err = _run(capsys, cfg, "data", "status", "--json")
    st = json.loads(text)
    assert rc == 0 and st["signatures"] == "missing" and st["spots_table"] is None
    assert st["space_weather"] is None
    p = tmp_path / "few.csv"
    p.write_text("\n".join(_head(ARCHIVE, 200)) + "\n")
    assert _run(capsys, cfg, "data", "ingest", str(p))[0] == 0
    # spots and space weather, no signature table yet: status reports all three, exit 0
    rc, text, err = _run(capsys, cfg, "data", "status", "--json")
    st = json.loads(text)
    assert rc == 0 and st["signatures"] == "missing" and "data build" in st["signatures_hint"]
    assert st["spots_table"]["rows"] == 200 and st["space_weather"]["days"] > 5000
    rc, text, err = _run(capsys, cfg, "data", "status")
    assert rc == 0 and "200 spots" in text and "signatures  missing" in text, err
    assert "space wx" in text and "error" not in err


def test_an_unreadable_spot_file_is_one_error_line_naming_it(chdb_path, capsys, tmp_path):
    import os
    import subprocess
    import sys
    import tempfile

    d = Path(tempfile.mkdtemp(prefix="ionis-h19-"))  # reachable for the unprivileged user
    d.chmod(0o777)
    f = d / "secret.csv"
    f.write_text("\n".join(_head(ARCHIVE, 20)) + "\n")
    f.chmod(0)
    cfg = d / "s.toml"
    cfg.write_text(f'[database]\npath = "{d / "db.chdb"}"\n[runs]\ndir = "{d / "runs"}"\n')
    cmd = [sys.executable, "-m", "ionis_tui", "--config", str(cfg), "data", "ingest", str(f)]
    if os.geteuid() == 0:
        # root reads any file: drop the two capabilities that let it, as a user would meet the
        # file. (Not "run as nobody": nobody cannot enter a checkout under a 0700 mktemp folder.)
        cmd = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *cmd]
    env = {**os.environ, "HOME": str(d), "IONIS_CONFIG_DIR": str(d / "c"),
           "IONIS_DATA_DIR": str(d / "data")}
    r = subprocess.run(cmd, cwd=Path(__file__).resolve().parents[1], env=env,
                       capture_output=True, text=True, timeout=300)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1, r.stderr
    assert lines[0].startswith(f"error: {f}: cannot read") and "runs.dir" not in r.stderr
