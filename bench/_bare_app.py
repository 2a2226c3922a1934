"""The baseline for bench/startup.py: a bare Textual app (header, one label, footer)."""

from textual.app import App, ComposeResult
from textual.widgets import Footer, Header, Label


class BareApp(App):
    def compose(self) -> ComposeResult:
        yield Header()
        yield Label("bare app ready")
        yield Footer()


if __name__ == "__main__":
    BareApp().run()
