"""The database panel: shown while checking, when the database needs attention, or while the
demo data is being seeded; hidden once the data is fine (the header then names the source)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from ionis_tui import fmt
from ionis_tui.dashboard_state import DataSource, DataStatus


def env_name(setting: str) -> str:
    return "IONIS_" + setting.upper().replace(".", "__") if setting else ""


class DataPanel(Static):
    DEFAULT_CSS = """
    DataPanel { height: auto; padding: 0 1; border: heavy $warning; }
    DataPanel.-error { border: heavy $error; }
    DataPanel.-hidden { display: none; }
    """

    _key: tuple = ()

    def show(self, d: DataSource, seed_rows: int) -> None:
        self.set_class(d.status == DataStatus.OK, "-hidden")
        self.set_class(d.status == DataStatus.ERROR, "-error")
        self.border_title = {"error": "database problem", "empty": "database empty",
                             "seeding": "seeding demo data", "building": "building signatures",
                             "checking": "database",
                             DataStatus.IMPORTING: "importing the IONIS signature bundle"}.get(d.status, "")
        text = render_data(d, seed_rows, max(20, self.size.width - 4))
        # Seeding progress repaints 4 times a second; relayout only when the height changes.
        key = (d.status, text.plain.count("\n"))
        self.update(text, layout=key != self._key)
        self._key = key


def render_data(d: DataSource, seed_rows: int, width: int) -> Text:
    t = Text()
    if d.status == DataStatus.CHECKING:
        t.append(f"checking the {d.mode or ''} database {d.where}…".replace("  ", " "))
    elif d.status == DataStatus.ERROR:
        t.append(d.message, "bold")
        if d.setting:
            t.append("\nfix: ")
            t.append(d.setting, "bold yellow")
            t.append(f" in the settings file (or env {env_name(d.setting)})")
        # a fault no setting fixes (a table another command is writing) only asks to look again
        t.append("\nthe app stays open: " + ("fix the setting and restart, or press " if d.setting
                                              else "press "))
        t.append("g", "bold")
        t.append(" to check again")
    elif d.status == DataStatus.EMPTY:
        t.append(d.message or f"The table {d.table} in the embedded database {d.where} has no rows.")
        t.append("\npress ")
        t.append("d", "bold")
        t.append(f" to seed {seed_rows:,} demo signature rows (synthetic, for trying the app)")
        if d.spots:
            t.append("\nor ")
            t.append("b", "bold")
            t.append(f" to build signatures from the {d.spots:,} ingested WSPR spots")

        t.append("\nor ")
        t.append("i", "bold")
        t.append(" to import the IONIS signature bundle (the original's real data)")
    elif d.status == DataStatus.SEEDING:
        # seed_demo counts rows generated plus rows written, so only the share is meaningful.
        frac = d.seed_done / d.seed_total if d.seed_total else 0.0
        t.append(f"generating and writing {seed_rows:,} demo rows into {d.table} ")
        t.append(fmt.bar(frac, max(10, min(40, width - 50))), "yellow")
        t.append(f" {100 * frac:.0f}%")
    elif d.status == DataStatus.BUILDING:
        frac = d.seed_done / d.seed_total if d.seed_total else 0.0
        t.append(f"aggregating {d.spots:,} spots into {d.table} ")
        t.append(fmt.bar(frac, max(10, min(40, width - 50))), "yellow")
        t.append(f" step {d.seed_done}/{d.seed_total}")

    elif d.status == DataStatus.IMPORTING:
        # d.message holds the file; progress counts rows read (the total is the rowid span).
        frac = min(1.0, d.seed_done / d.seed_total) if d.seed_total else 0.0
        t.append(f"{d.message}\ninto {d.table}; press ")
        t.append("i", "bold")
        t.append(" to cancel (the old table stays)\n")
        t.append(fmt.bar(frac, max(10, min(40, width - 36))), "yellow")
        t.append(f" {100 * frac:.0f}%  {d.seed_done:,} of ~{d.seed_total:,} rows")
        if d.seed_total and d.seed_done >= d.seed_total:
            t.append(" · finishing")
    return t
