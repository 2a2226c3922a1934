"""Run store, launcher and the per-job context (see shared/ARCHITECTURE.md)."""
