"""Ready-made paths between the reference stations, for picking from a list."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PresetPath:
    tx: str
    rx: str
    note: str

    @property
    def label(self) -> str:
        return f"{self.tx} -> {self.rx}   {self.note}"


PRESET_PATHS: tuple[PresetPath, ...] = (
    PresetPath("W3", "G", "reference path, mid-latitude transatlantic (~5,880 km)"),
    PresetPath("OX", "OH", "polar (Greenland -> Finland), storm-sensitive"),
    PresetPath("W3", "JA", "long path over the pole region"),
    PresetPath("G", "VK", "antipodal"),
    PresetPath("W6", "VK", "transpacific, southern hemisphere end"),
    PresetPath("DL", "ZS", "north-south, across the equator"),
    PresetPath("VE3", "PY", "north-south Americas"),
    PresetPath("JA", "W6", "transpacific"),
    PresetPath("KH6", "ZL", "Pacific, mostly over water"),
    PresetPath("G", "5H", "Europe -> East Africa"),
    PresetPath("VU", "HL", "South Asia -> East Asia"),
    PresetPath("LU", "9J", "South Atlantic"),
)
