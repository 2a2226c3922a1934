"""Run store, launcher and the per-job context (see docs/architecture.md)."""
