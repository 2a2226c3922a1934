"""The app's Textual stylesheets (``app.tcss``), shipped inside the package as ``slm_workbench.styles``."""
