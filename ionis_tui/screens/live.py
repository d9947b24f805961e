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
        try:
            return self.live_model()
        except Exception as exc:  # the app's callback must never take the screen down
            self._status(f"live model unavailable: {exc}", error=True)
            return None
