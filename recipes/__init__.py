"""The shipped recipes, inside the package as ``slm_workbench.recipes`` (``slmw recipes list``)."""
