"""Who wrote a signature table, from what: a structured record stored WITH the table.

The record is the table's COMMENT (JSON). Every writer (demo seed, `data build`, `data
import`) sets it on its staging table before the one EXCHANGE that swaps the staging table
in (engine.data.swap), so the table and its provenance change together: a killed command
leaves the old table with its old provenance or the new one with its new, never a mix.

`Provenance.kind` is the only input to "is this demo data?" (verification's ground truth,
the trainer's true effects, which command may replace the table); labels are for display.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from engine.data.client import translating
from engine.data.schema import table_exists
from engine.errors import DataError
from engine.settings import DatabaseSettings

KINDS = ("demo", "spots", "bundle")
_TAG = "ionis_provenance"  # marks our JSON among whatever COMMENT a foreign table carries
VERSION = 1


@dataclass(frozen=True)
class Provenance:
    kind: str                       # "demo" | "spots" | "bundle"
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"provenance kind must be one of {KINDS}, got {self.kind!r}")

    @property
    def is_demo(self) -> bool:
        return self.kind == "demo"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, d: Any) -> Provenance | None:
        """None for anything that is not a provenance dict (absent, foreign, damaged)."""
        if not isinstance(d, dict) or d.get("kind") not in KINDS:
            return None
        params = d.get("params")
        return cls(d["kind"], dict(params) if isinstance(params, dict) else {})


def is_demo(d: Any) -> bool:
    """Whether a `data_provenance` entry of checkpoint or run metadata (a dict, or its JSON
    text as safetensors metadata stores it) says demo data."""
    if isinstance(d, str):
        try:
            d = json.loads(d)
        except ValueError:
            return False
    p = Provenance.from_dict(d)
    return p is not None and p.is_demo


def comment_sql(prov: Provenance) -> str:
    """The COMMENT literal that stores `prov` (for ALTER TABLE ... MODIFY COMMENT)."""
    text = json.dumps({_TAG: VERSION, **prov.to_dict()}, sort_keys=True, default=str)
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def parse_comment(comment: str | None) -> Provenance | None:
    try:
        d = json.loads(comment or "")
    except ValueError:
        return None
    return Provenance.from_dict(d) if isinstance(d, dict) and _TAG in d else None


def read_provenance(client, db: DatabaseSettings) -> Provenance | None:
    """The provenance of db.table; None when the table is missing or carries none."""
    with translating(db):
        rows = client.query("SELECT comment FROM system.tables WHERE database = {d:String} "
                            "AND name = {t:String}",
                            parameters={"d": db.database, "t": db.table}).result_rows
    return parse_comment(rows[0][0]) if rows else None


WRITERS = {"demo": "`data seed`", "spots": "`data build`", "bundle": "`data import`"}


def describe(prov: Provenance | None) -> str:
    """A short phrase: who wrote the table (for messages)."""
    if prov is None:
        return "no ionis-tui command (it carries no provenance)"
    return WRITERS[prov.kind]


def guard_replace(client, db: DatabaseSettings, own: tuple[str, ...], force: bool,
                  command: str) -> int | None:
    """Rows in db.table, None when it does not exist. A table with rows that `command` may
    not replace (its provenance kind is not in `own`: another command's data, or a table no
    ionis-tui command wrote) is refused with a DataError unless force."""
    if not table_exists(client, db):
        return None
    with translating(db):
        n = int(client.query(f"SELECT count() FROM {db.qualified_table}").result_rows[0][0])
    prov = read_provenance(client, db)
    if n and not force and (prov is None or prov.kind not in own):
        raise DataError(f"{db.database}.{db.table} holds {n:,} rows written by {describe(prov)}; "
                        f"{command} is refusing to replace them (use --force, or write another "
                        f"table)", setting="database.table")
    return n
