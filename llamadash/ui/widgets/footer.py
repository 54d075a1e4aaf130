"""The key footer, compact in a narrow terminal so that q Quit and Q Stop+Quit stay on it."""

from __future__ import annotations

from textual.events import Resize
from textual.widgets import Footer

# Below this many columns the keys lose their spacing and ^p palette is left out (the help
# lists it): at 80 columns the full footer cut off at "q" (bench: tests/ui snapshots at 80x24).
WIDE = 100


class KeysFooter(Footer):
    """Textual's Footer, fitted to the terminal's width."""

    def on_resize(self, event: Resize) -> None:
        narrow = event.size.width < WIDE
        if narrow != self.compact:
            self.compact = narrow
            self.show_command_palette = not narrow
            self.refresh(recompose=True)
