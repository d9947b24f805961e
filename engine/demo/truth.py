"""Ground truth for the demo data: a small, documented physical model of WSPR SNR.

`true_snr_db` is the expected SNR (dB, 2.5 kHz WSPR reference bandwidth) of one spot
before per-spot fading and before the decode floor. The demo generator draws spots from it,
adds N(0, FADING_DB) noise and drops everything below DECODE_FLOOR_DB, exactly the way a
real receiver fails to decode weak signals. A trained model can then be compared with the
truth it was trained from (`true_sun_effect_db`, `true_storm_effect_db`).

The model (every term in dB, vectorised over numpy arrays):

    snr = SNR_REF + (power - POWER_REF_DBM) - spreading - ground_hops - muf_loss - absorption
          - storm - noise

* power: transmitter power moves SNR dB for dB (true_snr_db's power_dbm; reference 5 W).
* spreading: along the slant path (up to the F2 layer at F2_HEIGHT_KM and down) up to one hop,
  20 log10(slant / 1000 km); beyond HOP_KM cylindrical in the Earth-ionosphere duct,
  10 log10(R sin(d/R)), which turns into antipodal focusing (capped by FOCUS_MIN_SIN).
* ground_hops: GROUND_DB per extra F2 hop; a hop spans at most HOP_KM. Beyond CHORDAL_HOPS the
  wave hops chordally between ionospheric regions: no more ground reflections or D-layer passes.
* muf_loss: F2 layer support. foF2 at the path's control points (the midpoint, and the first
  and last reflection points of multi-hop paths) rises with SFI and with daylight (solar
  elevation via engine.geo.solar_elevation_deg), with a winter-day anomaly and long summer
  nights; storms depress it at high geomagnetic latitude. MUF = foF2 * M(hop length) at the
  weakest control point. Above the MUF the signal drops by up to MUF_CLOSE_DB over a soft
  edge (monthly medians blur the daily MUF), capped lower in local summer where sporadic-E
  fills in (ES_DB); below it, a small loss grows as the frequency approaches the MUF. So
  10m/15m close at night (in winter) and open more at high SFI. Flux above SFI_SATURATION
  adds nothing (F2 saturation; flare-enhanced daily readings reach ~900).
* absorption: D-layer, 2 passes per ground hop, proportional to sin(solar elevation)^0.75 at the
  ends and control points, to the hop's obliquity sec(i) (capped at ABS_SEC_MAX), to
  1/(f + 1 MHz)^2 and slightly to SFI: 160m/80m die in daylight, NVIS paths suffer less.
  A faint twilight residual makes deep mutual darkness best for the low bands.
* storm: (Kp/9)^STORM_KP_EXP * (STORM_MID_DB + STORM_POLAR_DB * w), w = how far the path reaches
  into the auroral zone (max dipole geomagnetic latitude along the path): mid-latitude paths
  lose a few dB at Kp 9, polar paths much more.
* noise: atmospheric noise is higher on low bands: NOISE_SLOPE_DB * log10(14 MHz / f).

Reference effect sizes (W3 -> G, June, day 172, SFI 150, Kp 2; tests/test_demo_truth.py):
20m 14z SFI 70 -> 200: +5.1 dB; Kp 0 -> 9: -9.9 dB (the path reaches geomagnetic latitude
~58, sub-auroral), -3.1 to -3.9 dB on low-latitude paths (VK -> JA, W6 -> JA); OX -> OH
20m 12z Kp 2 -> 8 costs 9.2 dB, 1.4 x W3 -> G; 20m beats 80m at 12z by 62 dB. Checked against
14,053 real spots by bench/truth_vs_spots.py (README: demo world and physics recovery).
The module constants below are the whole model; nothing is fitted to data.
"""

from __future__ import annotations

import numpy as np

from engine.geo import EARTH_RADIUS_KM, haversine_km, solar_declination_deg, solar_elevation_deg

FADING_DB = 5.5          # std of one spot around the truth (day-to-day fading, QSB, station mix)
DECODE_FLOOR_DB = -28.0  # WSPR cannot decode below this: such spots are never recorded

SNR_REF = 4.5            # SNR at 1000 km, one hop, band wide open, no absorption, quiet
HOP_KM = 3800.0          # longest F2 hop; spreading turns cylindrical beyond it
CHORDAL_HOPS = 2.0       # hops that touch the ground; longer paths add chordal hops
F2_HEIGHT_KM = 300.0     # reflection height: short paths travel a slant path (NVIS)
ABS_SEC_MAX = 3.5        # D-layer obliquity factor sec(i) on long hops (Earth curvature caps it)
FOCUS_MIN_SIN = 0.15     # antipodal focusing gain capped (wavefront never shrinks to a point)
GROUND_DB = 2.0          # loss per ground reflection between hops (sea ~1, land ~3)
FOF2_DAY0 = 3.5          # daytime foF2 (MHz) = FOF2_DAY0 + FOF2_DAY_SFI * SFI
FOF2_DAY_SFI = 0.045
SFI_SATURATION = 300.0   # flux above this adds nothing
WINTER_ANOMALY = 0.12    # daytime foF2 is this much higher in local winter, lower in summer
NIGHT_RATIO = 0.5        # night foF2 / day foF2 at the equinox ...
NIGHT_RATIO_SEASON = 0.15  # ... +/- this in local summer / winter (long summer nights)
MUF_CLOSE_DB = 30.0      # loss well above the MUF
MUF_EDGE = 0.10          # width of the soft MUF edge (in f / MUF)
MUF_NEAR_DB = 6.0        # loss at f = MUF from the broad approach to the MUF (x^2 law)
ES_DB = 15.0             # local-summer sporadic-E: closure loss capped this much lower
ABS_K = 110.0            # D-layer absorption, dB * MHz^2 per vertical pass at overhead sun
ABS_SFI = 0.001          # absorption grows by this per SFI unit above 70
ABS_TWILIGHT = 0.06      # residual absorption near sunset/sunrise, gone in deep darkness
STORM_KP_EXP = 1.0       # storm loss linear in Kp: Kp is already a quasi-log index of the disturbance
STORM_MID_DB = 3.0       # loss at Kp 9 away from the auroral zone
STORM_POLAR_DB = 10.0    # extra loss at Kp 9 for a path deep in the auroral zone
STORM_MLAT = 58.0        # geomagnetic latitude where the auroral weight reaches 0.5
STORM_MLAT_WIDTH = 4.0
STORM_FOF2 = 0.2         # foF2 drops by this share at Kp 9 in the auroral zone
NOISE_SLOPE_DB = 8.0
POWER_REF_DBM = 37.0     # transmitter power the model's SNR refers to (5 W)

# Dipole geomagnetic north pole (IGRF-13, 2020).
GEOMAG_POLE_LAT = 80.65
GEOMAG_POLE_LON = -72.68


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _unit(lat, lon):
    la, lo = np.radians(lat), np.radians(lon)
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


def great_circle_point(lat1, lon1, lat2, lon2, frac):
    """Point at `frac` (0..1) of the way along the great circle from 1 to 2 (degrees)."""
    a, b = _unit(lat1, lon1), _unit(lat2, lon2)
    omega = np.arccos(np.clip((a * b).sum(axis=0), -1.0, 1.0))
    s = np.maximum(np.sin(omega), 1e-9)
    p = np.sin((1.0 - frac) * omega) / s * a + np.sin(frac * omega) / s * b
    # Nearly coincident ends: the formula degenerates, the start point is the answer.
    p = np.where(omega < 1e-6, a, p)
    lat = np.degrees(np.arcsin(np.clip(p[2], -1.0, 1.0)))
    lon = np.degrees(np.arctan2(p[1], p[0]))
    return lat, lon


def geomagnetic_lat(lat, lon):
    """Dipole geomagnetic latitude (degrees)."""
    la, lo = np.radians(lat), np.radians(lon)
    pla, plo = np.radians(GEOMAG_POLE_LAT), np.radians(GEOMAG_POLE_LON)
    s = np.sin(la) * np.sin(pla) + np.cos(la) * np.cos(pla) * np.cos(lo - plo)
    return np.degrees(np.arcsin(np.clip(s, -1.0, 1.0)))


def path_geometry(tx_lat, tx_lon, rx_lat, rx_lon) -> dict:
    """Everything about a path that does not depend on time or space weather.

    Returns distance_km, hops, hop_km, m_factor, points (lat, lon) of shape (5, N): TX, first
    control point, midpoint, last control point, RX; and the auroral weight."""
    tx_lat, tx_lon, rx_lat, rx_lon = np.broadcast_arrays(
        *(np.asarray(v, dtype=np.float64) for v in (tx_lat, tx_lon, rx_lat, rx_lon)))
    d = haversine_km(tx_lat, tx_lon, rx_lat, rx_lon)
    hops = np.maximum(1.0, np.ceil(d / HOP_KM))
    hop_km = d / hops
    # Control points: the first and last reflection points (HOP_KM/2 from each end) and the
    # midpoint; on a one-hop path all three are the midpoint.
    a = np.minimum(0.5, (HOP_KM / 2.0) / np.maximum(d, 1e-6))
    lats, lons = [tx_lat], [tx_lon]
    for frac in (a, 0.5, 1.0 - a):
        la, lo = great_circle_point(tx_lat, tx_lon, rx_lat, rx_lon, frac)
        lats.append(la)
        lons.append(lo)
    lats.append(rx_lat)
    lons.append(rx_lon)
    lat, lon = np.stack(lats), np.stack(lons)
    mlat = np.abs(geomagnetic_lat(lat, lon))
    # M(3000)-like obliquity factor: ~1.7 for a 500 km hop, ~3.2 for a 3800 km hop.
    m_factor = 1.2 + 2.3 * (1.0 - np.exp(-hop_km / 1800.0))
    return {
        "distance_km": d, "hops": hops, "hop_km": hop_km, "m_factor": m_factor,
        "lat": lat, "lon": lon, "mlat": mlat,
        "auroral": _sigmoid((mlat.max(axis=0) - STORM_MLAT) / STORM_MLAT_WIDTH),
        "auroral_points": _sigmoid((mlat - STORM_MLAT) / STORM_MLAT_WIDTH),
    }


def spreading_db(distance_km) -> np.ndarray:
    """Geometric spreading loss relative to 1000 km: spherical (20 log10 d) up to one hop, then
    cylindrical in the Earth-ionosphere duct (10 log10 of the wavefront's circumference,
    R sin(d/R)), which turns into antipodal focusing past a quarter of the globe."""
    d = np.asarray(distance_km, dtype=np.float64)
    # Up to one hop the wave travels the slant path up to the F2 layer and down again.
    slant = np.sqrt(np.minimum(d, HOP_KM) ** 2 + (2.0 * F2_HEIGHT_KM) ** 2)
    near = 20.0 * np.log10(slant / 1000.0)
    theta, theta0 = d / EARTH_RADIUS_KM, HOP_KM / EARTH_RADIUS_KM
    ring = np.maximum(np.sin(theta), FOCUS_MIN_SIN) / np.sin(theta0)
    return near + np.where(d > HOP_KM, 10.0 * np.log10(ring), 0.0)


def condition_terms(geo: dict, freq_hz, hour, doy) -> dict:
    """Split of the model: everything fixed by path, band, hour and day, so that many spots
    with different SFI/Kp (see snr_from_terms) reuse it. Arrays broadcast over the path."""
    f = np.asarray(freq_hz, dtype=np.float64) / 1e6
    doy = np.asarray(doy, dtype=np.float64)
    lat, lon = geo["lat"], geo["lon"]
    elev = solar_elevation_deg(lat, lon, hour, doy)                 # (5, N)
    sin_e = np.sin(np.radians(elev))

    # F2 support at the three control points (rows 1..3), per unit of daytime foF2.
    season = (np.sin(np.radians(lat[1:4])) * np.sin(np.radians(solar_declination_deg(doy)))
              / np.sin(np.radians(23.44)))                         # +1 deep local summer
    day = np.clip((sin_e[1:4] + 0.10) / 0.35, 0.0, 1.0) ** 0.5
    night = NIGHT_RATIO + NIGHT_RATIO_SEASON * season
    support = (1.0 - WINTER_ANOMALY * season) * (night + (1.0 - night) * day) * geo["m_factor"]

    # D-layer absorption: mean sun factor over the five points times 2 passes per hop.
    sun = np.maximum(sin_e, 0.0) ** 0.75 + ABS_TWILIGHT * _sigmoid((elev + 8.0) / 3.0)
    spreading = spreading_db(geo["distance_km"])
    # Beyond CHORDAL_HOPS hops the wave skips between ionospheric regions (chordal hops /
    # ducting) without touching the ground or passing the D layer again.
    ground_hops = np.minimum(geo["hops"], CHORDAL_HOPS)
    ground = GROUND_DB * (ground_hops - 1.0)
    sec_i = np.minimum(np.sqrt(1.0 + (geo["hop_km"] / (2.0 * F2_HEIGHT_KM)) ** 2), ABS_SEC_MAX)
    noise = NOISE_SLOPE_DB * np.log10(14.0 / f)
    return {
        "f_mhz": f * np.ones_like(geo["distance_km"]),
        "const": SNR_REF - spreading - ground - noise,
        "support": support,                                         # (3, N)
        "auroral_points": geo["auroral_points"][1:4],               # (3, N)
        # Summer sporadic-E keeps bands above the F2 MUF partly open: caps the closure loss.
        "es_cap": MUF_CLOSE_DB - ES_DB * np.clip(season[1], 0.0, 1.0),
        # Absorption per pass grows with the obliquity sec(i) of the hop at D-layer height.
        "absorption": ABS_K / (f + 1.0) ** 2 * 2.0 * ground_hops * sun.mean(axis=0) * sec_i,
        "storm": STORM_MID_DB + STORM_POLAR_DB * geo["auroral"],
    }


def snr_from_terms(t: dict, sfi, kp) -> np.ndarray:
    """The SFI/Kp-dependent part of the model on top of condition_terms."""
    # The F2 layer saturates at high flux (and flare-enhanced daily F10.7 readings near 900
    # do not mean a 900-flux ionosphere): flux above SFI_SATURATION counts as SFI_SATURATION.
    sfi = np.minimum(np.asarray(sfi, dtype=np.float64), SFI_SATURATION)
    kp9 = np.clip(np.asarray(kp, dtype=np.float64) / 9.0, 0.0, 1.0)
    fof2_day = FOF2_DAY0 + FOF2_DAY_SFI * sfi
    muf = (fof2_day * t["support"] * (1.0 - STORM_FOF2 * kp9 * t["auroral_points"])).min(axis=0)
    x = t["f_mhz"] / muf
    closed = np.minimum(MUF_CLOSE_DB * _sigmoid((x - 1.0) / MUF_EDGE), t["es_cap"])
    muf_loss = closed + MUF_NEAR_DB * np.minimum(x, 1.0) ** 2
    absorption = t["absorption"] * (1.0 + ABS_SFI * (sfi - 70.0))
    storm = kp9 ** STORM_KP_EXP * t["storm"]
    return t["const"] - muf_loss - absorption - storm


def snr_from_geometry(geo: dict, freq_hz, hour, doy, sfi, kp) -> np.ndarray:
    """true_snr_db for a precomputed path_geometry."""
    return snr_from_terms(condition_terms(geo, freq_hz, hour, doy), sfi, kp)


def true_snr_db(tx_lat, tx_lon, rx_lat, rx_lon, freq_hz, hour, doy, sfi, kp,
                power_dbm=None) -> np.ndarray:
    """Expected SNR (dB) of a WSPR spot before fading noise and before the decode floor.

    All arguments broadcast (numpy arrays or scalars): degrees, Hz, UTC hour (fractional ok),
    day of year, SFI (10.7 cm flux), Kp 0..9, transmitter power in dBm (None = POWER_REF_DBM;
    SNR moves dB for dB with power). Returns float64 dB."""
    geo = path_geometry(tx_lat, tx_lon, rx_lat, rx_lon)
    shape = np.broadcast_shapes(np.shape(geo["distance_km"]), np.shape(freq_hz), np.shape(hour),
                                np.shape(doy), np.shape(sfi), np.shape(kp))
    if shape != np.shape(geo["distance_km"]):
        b = lambda v: np.broadcast_to(np.asarray(v, dtype=np.float64), shape)  # noqa: E731
        geo = path_geometry(b(tx_lat), b(tx_lon), b(rx_lat), b(rx_lon))
    snr = snr_from_geometry(geo, freq_hz, hour, doy, sfi, kp)
    if power_dbm is None:
        return snr
    return snr + (np.asarray(power_dbm, dtype=np.float64) - POWER_REF_DBM)


def true_sun_effect_db(tx_lat, tx_lon, rx_lat, rx_lon, freq_hz, hour, doy,
                       sfi_low=70.0, sfi_high=200.0, kp=2.0) -> np.ndarray:
    """dB gained going from sfi_low to sfi_high on a path (positive = the sun helps)."""
    hi = true_snr_db(tx_lat, tx_lon, rx_lat, rx_lon, freq_hz, hour, doy, sfi_high, kp)
    lo = true_snr_db(tx_lat, tx_lon, rx_lat, rx_lon, freq_hz, hour, doy, sfi_low, kp)
    return hi - lo


def true_storm_effect_db(tx_lat, tx_lon, rx_lat, rx_lon, freq_hz, hour, doy,
                         kp_low=0.0, kp_high=9.0, sfi=150.0) -> np.ndarray:
    """dB lost going from kp_low to kp_high on a path (positive = the storm costs)."""
    lo = true_snr_db(tx_lat, tx_lon, rx_lat, rx_lon, freq_hz, hour, doy, sfi, kp_low)
    hi = true_snr_db(tx_lat, tx_lon, rx_lat, rx_lon, freq_hz, hour, doy, sfi, kp_high)
    return lo - hi


__all__ = [
    "DECODE_FLOOR_DB", "FADING_DB", "geomagnetic_lat", "great_circle_point",
    "condition_terms", "path_geometry", "snr_from_geometry", "snr_from_terms", "true_snr_db", "true_storm_effect_db",
    "true_sun_effect_db",
]
