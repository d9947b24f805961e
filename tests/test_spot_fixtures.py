"""The synthetic spot fixtures (tests/fixtures/spots): the committed files are exactly what
make_spots.py writes, and every form `data ingest` reads gives the same spots table."""

from __future__ import annotations

import pytest
from spots_fixtures import FIXTURES, FORMS, N_LONG, ROCKS, ROCKS_REPEATS, SPOTS, N, make_spots

from engine.data.client import connect
from engine.data.ingest import ingest_files
from engine.data.spot_formats import sniff
from engine.settings import DatabaseSettings


def test_committed_fixtures_are_the_scripts_output():
    """Regenerate with `python tests/fixtures/spots/make_spots.py` after changing it."""
    made = make_spots.render()
    assert set(made) == {p.name for p in FORMS.values()}
    for name, text in made.items():
        assert (FIXTURES / name).read_text(encoding="utf-8") == text, f"{name} drifted"
        assert len(text.encode()) < 40_000, name  # small: a fixture, not a data set


def test_the_fixture_covers_what_the_tests_rely_on():
    bands = {s["band"] for s in SPOTS}
    assert {"40m", "30m", "20m", "15m", "10m"} <= bands
    for band in ("20m", "30m"):  # [evaluate] min_band_rows = 100 grades these
        assert sum(s["band"] == band and s["km"] >= 500 for s in SPOTS) > 100
    assert 0 < N - N_LONG < 10  # a few short paths the build drops
    assert {s["time"].month for s in SPOTS} == {2, 5}
    assert len({(s["time"], s["tx"], s["rx"], s["band"], s["snr"]) for s in SPOTS}) == N


@pytest.fixture(scope="module")
def tables(chdb_path):
    """Each form ingested into a table of its own."""
    db = DatabaseSettings(path=chdb_path, database="h22c_forms")
    client = connect(db)
    client.command("DROP DATABASE IF EXISTS h22c_forms SYNC")
    for name, path in FORMS.items():
        ingest_files(client, db, [path], table=name.replace("-", "_"))
    return client


COLUMNS = "spot_key, time, band, frequency_hz, tx_sign, tx_loc, rx_sign, rx_loc, snr, power_dbm, " \
          "distance_km, azimuth"


@pytest.mark.parametrize("form", sorted(FORMS))
def test_every_form_is_sniffed_and_ingests_the_same_spots(tables, form):
    assert sniff(FORMS[form]).fmt.name == form
    got = tables.query(f"SELECT {COLUMNS} FROM h22c_forms.{form.replace('-', '_')} "
                       f"ORDER BY time, tx_sign, rx_sign").result_rows
    want = tables.query(f"SELECT {COLUMNS} FROM h22c_forms.wsprnet "
                        f"ORDER BY time, tx_sign, rx_sign").result_rows
    assert len(got) == N and got == want
    assert [r[6] for r in got] == [s["rx"] for s in SPOTS]  # in the generator's order
    assert [r[8] for r in got] == [s["snr"] for s in SPOTS]


def test_the_rocks_file_repeats_two_lines():
    lines = ROCKS.read_text().splitlines()[1:]
    assert len(lines) - len(set(lines)) == ROCKS_REPEATS
