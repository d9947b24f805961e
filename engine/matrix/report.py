"""The matrix as text for people and as a JSON-ready dict for machines."""

from __future__ import annotations

from engine.matrix.compute import MatrixResult, check_units
from engine.matrix.facts import PathFacts, station_name

UNIT_LABEL = {"db": "dB", "sigma": "sigma"}


def _place(lat: float, lon: float) -> str:
    name = station_name((lat, lon))
    ll = f"{lat:.2f},{lon:.2f}"
    return f"{name} ({ll})" if name else ll


def path_dict(f: PathFacts, model: str) -> dict:
    d = f.as_dict()
    d["model"] = model
    return d


def as_dict(r: MatrixResult, units: str = "db", decimals: int = 4) -> dict:
    u = check_units(units)
    return {
        "sfi": [float(v) for v in r.sfi],
        "kp": [float(v) for v in r.kp],
        "values": [[round(float(v), decimals) for v in row] for row in r.values(u)],
        "units": u,
        "violations": r.violations,
        "tolerance_sigma": r.tolerance,
        "path": path_dict(r.facts, r.model),
    }


def facts_lines(f: PathFacts) -> list[str]:
    day = f"day {f.day}" if f.day is not None else f"mid-month day {f.doy_used:g}"
    return [
        f"{_place(f.tx_lat, f.tx_lon)} -> {_place(f.rx_lat, f.rx_lon)}   {f.band}   "
        f"{f.hour:g}z   month {f.month} ({day})",
        f"distance {f.distance_km:,.0f} km   azimuth {f.azimuth_deg:.1f} deg   "
        f"sun at TX {f.tx_elevation_deg:+.1f} deg ({f.tx_light})   "
        f"at RX {f.rx_elevation_deg:+.1f} deg ({f.rx_light})",
    ]


def grid_lines(sfi, kp, values, fmt: str = "{:+.2f}") -> list[str]:
    cells = [[fmt.format(float(v)) for v in row] for row in values]
    w = max(6, *(len(c) for row in cells for c in row))
    head = "SFI\\Kp".rjust(7) + "".join(f"{k:g}".rjust(w + 1) for k in kp)
    lines = [head]
    for s, row in zip(sfi, cells, strict=True):
        lines.append(f"{s:g}".rjust(7) + "".join(c.rjust(w + 1) for c in row))
    return lines


def violation_lines(r: MatrixResult) -> list[str]:
    if not r.violations:
        return [f"monotonicity: OK, no violations (tolerance {r.tolerance:g} sigma)"]
    out = [f"monotonicity: {len(r.violations)} violation(s) (tolerance {r.tolerance:g} sigma)"]
    out += [f"  [{v['kind']}] {v['message']}" for v in r.violations]
    return out


def format_table(r: MatrixResult, units: str = "db") -> str:
    u = check_units(units)
    lines = [r.model, *facts_lines(r.facts), "",
             f"predicted SNR ({UNIT_LABEL[u]}): rows SFI, columns Kp",
             *grid_lines(r.sfi, r.kp, r.values(u)), "", *violation_lines(r)]
    return "\n".join(lines)
