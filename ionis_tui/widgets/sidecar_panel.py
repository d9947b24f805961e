"""Health of the sun and storm sidecars: bias, clamp pinning, physical effect, gates.

A sidecar whose weights all sit at the clamp floor is dead (the published IONIS checkpoints'
sun sidecar is): its "effect" is then only the floor's arithmetic, so it gets a red warning."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from engine.sidecar_health import is_dead
from ionis_tui import fmt


def dead_sidecars(m: dict[str, Any]) -> list[str]:
    return [name for name in ("sun", "storm") if is_dead(m.get(f"{name}_pinned_low"))]


class SidecarPanel(Static):
    DEFAULT_CSS = """
    SidecarPanel { border: round $primary 50%; border-title-color: $text-muted; height: auto; padding: 0 1; }
    """

    def on_mount(self) -> None:
        self.border_title = "sidecars"
        self.border_subtitle = "effect: sun SFI 70→200, storm Kp 0→9"
        self.show({})

    def show(self, m: dict[str, Any]) -> None:
        self.update(render_sidecars(m))


def render_sidecars(m: dict[str, Any]) -> Group:
    """One row per sidecar (three lines, four with a dead one): fits 80x24 beside the plots."""
    # Demo data only: the generator's true effect beside the model's, so recovery shows live.
    truth = m.get("sun_truth_db") is not None or m.get("storm_truth_db") is not None
    heads = ("fc2.bias", "effect dB") + (("truth dB",) if truth else ()) + ("pinned lo/hi", "gate @bound")
    rows = [[name, fmt.num(m.get(f"{name}_fc2_bias"), "+.2f"), fmt.num(m.get(f"{name}_effect_db"), "+.2f"),
             *((fmt.num(m.get(f"{name}_truth_db"), "+.2f"),) if truth else ()),
             f"{fmt.share(m.get(f'{name}_pinned_low'))}/{fmt.share(m.get(f'{name}_pinned_high'))}",
             f"{fmt.num(m.get(f'{name}_gate_mean'), '.2f')}/{fmt.share(m.get(f'{name}_gate_at_bound'))}"]
            for name in ("sun", "storm")]
    # Where the panel is narrow (42 columns inside at 120x40) the headers wrap, not the numbers;
    # gate mean and its at-bound share share one cell so that a demo run's row fits.
    t = Table(box=None, pad_edge=False, collapse_padding=True, show_header=True, header_style="bold", expand=False)
    t.add_column("", no_wrap=True)
    for head in heads:
        t.add_column(head, justify="right")
    for r in rows:
        t.add_row(*r)
    parts: list[Any] = [t]
    for name in dead_sidecars(m):
        parts.append(Text(f"DEAD SIDECAR: {name} — all weights at the clamp floor", "bold white on red"))
    return Group(*parts)
