"""The verify suite's skill source from settings [evaluate]: read the observations and the
climatology once, then evaluate any number of models on them."""

from __future__ import annotations

from collections.abc import Callable

from engine.errors import IonisError


def skill_source(settings, levels: tuple[str, ...] | None = None) -> Callable | str:
    """A function LoadedModel -> Evaluation on the configured source, or why there is none.
    A configured source that cannot be read is a reason (the skill tests say it), not a crash
    of the whole suite."""
    from engine.evaluate.observations import load_observations
    from engine.evaluate.run import evaluate
    from engine.evaluate.tables import climatology

    cfg = settings.evaluate
    if not cfg.spots and not cfg.table:
        return "no real-spot source configured (settings [evaluate] spots or table)"
    try:
        obs = load_observations(settings, spots=cfg.spots or None,
                                table=None if cfg.spots else cfg.table)
    except IonisError as exc:
        return f"real-spot source unusable: {exc}"
    try:
        clim = climatology(settings.database, cfg.climatology_table or None)
    except IonisError as exc:
        clim = f"no training-table climatology: {exc}"

    # The skill group judges the finest level only; the evaluate view shows both.
    lv = levels or (("spots",) if obs.level == "spots" else ("signatures",))

    def run(lm):
        return evaluate(lm, obs, clim, min_band_rows=cfg.min_band_rows, levels=lv)
    return run
