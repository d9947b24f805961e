"""What the verify and matrix screens share about the live (training) model."""

from __future__ import annotations

from collections.abc import Callable

from engine.checkpoint import LoadedModel


class LiveModel:
    """Mixin for a screen with a `live_model` callback and a `_status(text, error)` line."""

    live_model: Callable[[], LoadedModel | None]

    def _status(self, text: str, error: bool = False) -> None:  # the screen's own
        raise NotImplementedError

    def _live(self) -> LoadedModel | None:
        lm, error = self._live_or_error()
        if error:
            self._status(error, error=True)
        return lm

    def _live_or_error(self) -> tuple[LoadedModel | None, str]:
        """The live model, or the reason it is unavailable; touches no widget, so a thread
        worker may call it (the snapshot waits for the training step's lock)."""
        try:
            return self.live_model(), ""
        except Exception as exc:  # the app's callback must never take the screen down
            return None, f"live model unavailable: {exc}"
