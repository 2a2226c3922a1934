"""SLM Workbench: the small-language-model lifecycle in one terminal."""

__version__ = "0.1.0"
