"""An OpenAI-compatible HTTP server for any chat backend (``slmw serve``)."""
