"""Plain facts about a path at a given time: distance, bearing and where the sun stands at each end."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from engine.geo import STATIONS, bearing_deg, day_of_year, haversine_km, solar_elevation_deg
from engine.predict import Path_

# Grey line = the sun within this many degrees of the horizon (civil twilight on either side).
GREY_LINE_DEG = 6.0


def light_label(elevation_deg: float) -> str:
    """"day" above +6 deg, "night" below -6 deg, "grey line" in between."""
    if elevation_deg > GREY_LINE_DEG:
        return "day"
    if elevation_deg < -GREY_LINE_DEG:
        return "night"
    return "grey line"


def station_name(latlon: tuple[float, float]) -> str | None:
    """The preset whose coordinates these are, so a report can say "W3" rather than numbers."""
    for name, ll in STATIONS.items():
        if abs(ll[0] - latlon[0]) < 1e-9 and abs(ll[1] - latlon[1]) < 1e-9:
            return name
    return None


@dataclass(frozen=True)
class PathFacts:
    tx_lat: float
    tx_lon: float
    rx_lat: float
    rx_lon: float
    band: str
    hour: float
    month: int
    day: int | None          # as given; None = mid-month day, like the signature data
    doy_used: float          # the day of year the solar elevations (and the model) used
    distance_km: float
    azimuth_deg: float       # initial great-circle bearing TX -> RX
    tx_elevation_deg: float
    rx_elevation_deg: float
    tx_light: str
    rx_light: str

    def as_dict(self) -> dict:
        return asdict(self)


def path_facts(path: Path_) -> PathFacts:
    (tla, tlo), (rla, rlo) = path.tx, path.rx
    # Same day rule as engine.features: the real day when given, else mid-month.
    doy = day_of_year(path.month, path.day)
    tx_el = float(solar_elevation_deg(tla, tlo, path.hour, doy))
    rx_el = float(solar_elevation_deg(rla, rlo, path.hour, doy))
    return PathFacts(
        tx_lat=float(tla), tx_lon=float(tlo), rx_lat=float(rla), rx_lon=float(rlo),
        band=path.band.name, hour=float(path.hour), month=int(path.month), day=path.day,
        doy_used=doy,
        distance_km=float(haversine_km(tla, tlo, rla, rlo)),
        azimuth_deg=float(bearing_deg(tla, tlo, rla, rlo)),
        tx_elevation_deg=tx_el, rx_elevation_deg=rx_el,
        tx_light=light_label(tx_el), rx_light=light_label(rx_el),
    )
