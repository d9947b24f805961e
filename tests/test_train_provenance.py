"""A checkpoint remembers where its rows came from, so verification knows when the demo
generator's ground truth applies (and says why it does not, otherwise)."""

from __future__ import annotations

import json

import pytest
import torch

from engine.checkpoint import load_model
from engine.cli import main
from engine.data.client import connect
from engine.data.schema import SCHEMA, create_table_sql
from engine.demo.seed import generate_signatures, seed_demo
from engine.settings import DatabaseSettings
from engine.verify.runner import truth_applies

DATABASE = "provenance"


@pytest.fixture(scope="module")
def tables(chdb_path) -> str:
    demo = DatabaseSettings(path=chdb_path, database=DATABASE, table="seeded")
    seed_demo(connect(demo), demo, 3000, seed=5)
    # named "demo...": the name must not make it demo data (only the provenance's kind does)
    plain = DatabaseSettings(path=chdb_path, database=DATABASE, table="demo_copied")
    client = connect(plain)
    client.command(f"DROP TABLE IF EXISTS {plain.qualified_table}")
    client.command(create_table_sql(plain))
    cols = generate_signatures(client, plain, 3000, seed=5)
    client.insert(plain.table, [cols[k] for k in SCHEMA], column_names=list(SCHEMA),
                  column_oriented=True, database=DATABASE)
    return chdb_path


@pytest.mark.slow  # trains
@pytest.mark.parametrize("table,demo", [("seeded", True), ("demo_copied", False)])
def test_checkpoints_record_the_data_source(tmp_path, tables, capsys, table, demo):
    cfg = tmp_path / "s.toml"
    cfg.write_text(f'[database]\npath = "{tables}"\ndatabase = "{DATABASE}"\ntable = "{table}"\n'
                   f'[train]\nepochs = 1\nbatch_size = 512\ndevice = "cpu"\n')
    torch.set_num_threads(1)
    assert main(["--config", str(cfg), "train", "--run-dir", str(tmp_path / "run")]) == 0
    capsys.readouterr()
    for name in ("best.safetensors", "last.pt"):
        lm = load_model(tmp_path / "run" / name)
        assert f"{DATABASE}.{table}" in lm.meta["data_source"]
        assert lm.meta["data_table"] == f"{DATABASE}.{table}"
        assert ((lm.meta["data_provenance"] or {}).get("kind") == "demo") is demo
        applies, why = truth_applies(lm)
        assert applies is demo, why
        if not demo:
            assert "not the demo data" in why
    state = json.loads((tmp_path / "run" / "state.json").read_text())
    assert state["data_table"] == f"{DATABASE}.{table}"
    assert ((state["data_provenance"] or {}).get("kind") == "demo") is demo
