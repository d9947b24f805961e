"""What data a run trains on, recorded in its state.json, and what changed since: the one
check a resume must pass (the CLI calls it before it writes anything; the app can call
`resume_data_changes` before it offers a resume). The session's own check after loading
(train/val row counts and checksum of the sample) catches what this cheap one cannot see.

state.json keys (per run, and per phase in "phases"): data_table (qualified table name, or
"" for a rows file), data_provenance ({"kind": "demo" | "spots" | "bundle" | "unknown" |
"file", "params": {...}}), data_rows (rows in the table or file when the phase began) and
data_source (the label the CLI prints).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.settings import DatabaseSettings, Settings

FILE_KIND, UNKNOWN_KIND = "file", "unknown"


@dataclass(frozen=True)
class DataIdentity:
    table: str                       # "db.table", or "" for a rows file
    kind: str                        # provenance kind (engine.data.status.provenance), or "file"
    rows: int | None                 # rows in the table / file when recorded
    source: str = ""                 # the human label ("embedded ..., table ... (demo data, seed 7)")
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"data_table": self.table, "data_provenance": {"kind": self.kind, "params": self.params},
                "data_rows": self.rows, "data_source": self.source}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DataIdentity | None:
        """None when d records no data identity (a run from before it was recorded)."""
        prov = d.get("data_provenance")
        if "data_table" not in d or not isinstance(prov, dict):
            return None
        rows = d.get("data_rows")
        return cls(str(d["data_table"]), str(prov.get("kind") or UNKNOWN_KIND),
                   rows if isinstance(rows, int) else None, str(d.get("data_source") or ""),
                   dict(prov.get("params") or {}))

    @property
    def is_demo(self) -> bool:
        from engine.data.provenance import is_demo

        return is_demo({"kind": self.kind, "params": self.params})

    @property
    def label(self) -> str:
        """Short form for lists: "demo signatures.v22", "file rows.npy"."""
        return f"{self.kind} {self.table or Path(self.params.get('file', '')).name}".strip()


def of_rows_file(path: str | os.PathLike, rows: int) -> DataIdentity:
    p = Path(path).resolve()
    return DataIdentity("", FILE_KIND, int(rows), f"rows file {path}", {"file": str(p)})


def of_table(client, db: DatabaseSettings, source: str = "") -> DataIdentity:
    """The configured table as it is now: its row count and provenance."""
    from engine.data.client import translating
    from engine.data.provenance import read_provenance

    with translating(db):
        rows = int(client.query(f"SELECT count() FROM {db.qualified_table}").result_rows[0][0])
    prov = read_provenance(client, db)
    return DataIdentity(f"{db.database}.{db.table}", prov.kind if prov else UNKNOWN_KIND, rows,
                        source, dict(prov.params) if prov else {})


def changes(then: DataIdentity, now: DataIdentity) -> list[str]:
    """What differs, in words; [] when the data look the same."""
    out = []
    if (then.table, then.params.get("file")) != (now.table, now.params.get("file")):
        out.append(f"source: {then.table or then.params.get('file')} then, {now.table or now.params.get('file')} now")
    if then.kind != now.kind:
        out.append(f"data kind: {then.kind} then, {now.kind} now")
    if then.rows != now.rows:
        out.append(f"rows: {_n(then.rows)} then, {_n(now.rows)} now")
    return out


def _n(v: int | None) -> str:
    return "unknown" if v is None else f"{v:,}"


def recorded(run_dir: str | os.PathLike) -> DataIdentity | None:
    """The data the run's current phase trains on, from its state.json."""
    from engine.train.rundir import STATE, read_json

    return DataIdentity.from_dict(read_json(Path(run_dir, STATE)) or {})


def refusal(run_dir: str | os.PathLike, what_changed: list[str]) -> str:
    return (f"the data of run {Path(run_dir).name} changed since it last trained "
            f"({'; '.join(what_changed)}): resuming would train it on other data. Start a new run, "
            f"or resume with --force to continue on the new data as a new phase of this run")


def resume_data_changes(run_dir: str | os.PathLike, settings: Settings,
                        rows_file: str | None = None) -> list[str]:
    """Before a resume (CLI, app): how today's data differ from the run's; [] when they do
    not, or when the run recorded nothing to compare with. Opens the database (not torch)."""
    then = recorded(run_dir)
    if then is None:
        return []
    return changes(then, current(settings, rows_file))


def current(settings: Settings, rows_file: str | None = None) -> DataIdentity:
    """Today's data identity: the rows file's, or the configured table's."""
    if rows_file:
        import numpy as np

        arr = np.load(rows_file, mmap_mode="r", allow_pickle=False)
        return of_rows_file(rows_file, int(arr.shape[0]))
    from engine.data.client import connect
    from engine.data.provenance import read_provenance
    from engine.data.status import source_label

    client = connect(settings.database)
    label = source_label(read_provenance(client, settings.database), settings.database)
    return of_table(client, settings.database, label)
