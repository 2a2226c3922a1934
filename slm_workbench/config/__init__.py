"""Recipes: validated, documented YAML for every job (pydantic, unknown keys are errors)."""
