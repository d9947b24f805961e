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
        self.show({})

    def show(self, m: dict[str, Any]) -> None:
        self.update(render_sidecars(m))


def render_sidecars(m: dict[str, Any]) -> Group:
    t = Table(box=None, pad_edge=False, show_header=True, header_style="bold", expand=False)
    t.add_column("")
    t.add_column("sun", justify="right")
    t.add_column("storm", justify="right")
    t.add_row("fc2.bias", fmt.num(m.get("sun_fc2_bias"), "+.3f"), fmt.num(m.get("storm_fc2_bias"), "+.3f"))
    t.add_row("pinned low/high",
              f"{fmt.share(m.get('sun_pinned_low'))}/{fmt.share(m.get('sun_pinned_high'))}",
              f"{fmt.share(m.get('storm_pinned_low'))}/{fmt.share(m.get('storm_pinned_high'))}")
    t.add_row("effect dB", fmt.num(m.get("sun_effect_db"), "+.2f"), fmt.num(m.get("storm_effect_db"), "+.2f"))
    if m.get("sun_truth_db") is not None or m.get("storm_truth_db") is not None:  # demo data only
        t.add_row("truth dB", fmt.num(m.get("sun_truth_db"), "+.2f"), fmt.num(m.get("storm_truth_db"), "+.2f"))
    t.add_row("mean gate", fmt.num(m.get("sun_gate_mean"), ".3f"), fmt.num(m.get("storm_gate_mean"), ".3f"))
    parts: list[Any] = [t, Text("sun gain SFI 70→200, storm cost Kp 0→9", "dim")]
    for name in dead_sidecars(m):
        parts.append(Text(f"DEAD SIDECAR: {name} — all weights at the clamp floor", "bold white on red"))
    return Group(*parts)
