"""engine.data.provenance: the record stored as the table's COMMENT, on real chdb."""

from __future__ import annotations

import json

from engine.data.client import connect
from engine.data.provenance import Provenance, comment_sql, is_demo, read_provenance
from engine.data.schema import create_table_sql
from engine.settings import DatabaseSettings


def test_provenance_round_trips_through_the_table_comment(chdb_path):
    db = DatabaseSettings(path=chdb_path, database="h19_prov", table="t")
    client = connect(db)
    client.command("CREATE DATABASE IF NOT EXISTS h19_prov")
    client.command(f"DROP TABLE IF EXISTS {db.qualified_table} SYNC")
    client.command(create_table_sql(db))
    assert read_provenance(client, db) is None  # a table no command wrote
    p = Provenance("bundle", {"file": "/x/it's a \\ \"bundle\" ü\n{t:String}.sqlite", "rows": 3})
    client.command(f"ALTER TABLE {db.qualified_table} MODIFY COMMENT {comment_sql(p)}")
    assert read_provenance(client, db) == p
    # someone else's comment, even JSON with a "kind", is no provenance of ours
    client.command(f"ALTER TABLE {db.qualified_table} MODIFY COMMENT '{{\"kind\": \"demo\"}}'")
    assert read_provenance(client, db) is None
    assert read_provenance(client, DatabaseSettings(path=chdb_path, database="h19_prov",
                                                    table="absent")) is None


def test_is_demo_reads_the_kind_only():
    demo = Provenance("demo", {"seed": 1}).to_dict()
    assert is_demo(demo) and is_demo(json.dumps(demo))  # safetensors metadata is text
    assert not is_demo({"kind": "spots", "params": {"table": "demo"}})
    assert not is_demo("demo data") and not is_demo(None) and not is_demo({"kind": "other"})
    assert Provenance.from_dict(demo) == Provenance("demo", {"seed": 1})


def test_the_rename_fallback_of_an_ordinary_database_carries_the_provenance_too(chdb_path):
    from engine.data.swap import swap_in

    db = DatabaseSettings(path=chdb_path, database="h19_ordinary", table="t")
    client = connect(db)
    client.command("DROP DATABASE IF EXISTS h19_ordinary SYNC")
    # EXCHANGE needs an Atomic database; an Ordinary one gets one RENAME of both tables
    client.command("CREATE DATABASE h19_ordinary ENGINE = Ordinary",
                   settings={"allow_deprecated_database_ordinary": 1})
    for name in ("t", "t__new"):
        client.command(create_table_sql(db, name))
    client.command("INSERT INTO h19_ordinary.t__new (band) VALUES (107), (105)")
    swap_in(client, db, "t__new", True, Provenance("spots", {"signatures": 2}))
    assert read_provenance(client, db) == Provenance("spots", {"signatures": 2})
    assert client.query(f"SELECT count() FROM {db.qualified_table}").result_rows == [(2,)]
    client.command("DROP DATABASE h19_ordinary SYNC")
