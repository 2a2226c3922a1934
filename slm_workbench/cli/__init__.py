"""``slmw``: every stage from the shell. ``slmw`` alone opens the TUI."""
