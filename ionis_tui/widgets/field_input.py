"""An Input that keeps a burst of keys in order.

Textual runs an Input's printable keys in the Input's own key handler, but its editing keys
(backspace, end, left, ...) as bindings, which are looked up only after the key event has
bubbled up to the app, a few message hops later. Keys that arrive together (SSH delivers a
burst at once) are then applied out of order: "end, backspace x3, JO51" into "G" gave "GJ",
"J" or "". Here the editing keys run in the handler too, in arrival order."""

from __future__ import annotations

from textual import events
from textual.widgets import Input

# key -> action, from Input's own bindings (so a Textual upgrade's keys come along)
EDIT_KEYS: dict[str, str] = {
    key.strip(): b.action
    for b in Input.BINDINGS if not isinstance(b, tuple)
    for key in b.key.split(",")
}


class FieldInput(Input):
    async def _on_key(self, event: events.Key) -> None:
        action = EDIT_KEYS.get(event.key)
        if action is not None and event.key not in ("enter", "tab", "shift+tab", "escape"):
            event.stop()
            event.prevent_default()
            await self.run_action(action)
            return
        await super()._on_key(event)
