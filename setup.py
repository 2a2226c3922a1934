"""Packages of the wheel: everything under slm_workbench/, plus the two top-level folders
pyproject.toml maps into it (styles/ and recipes/). The rest of the metadata is in pyproject.toml."""

from setuptools import find_packages, setup

setup(packages=find_packages(include=["slm_workbench", "slm_workbench.*"]) + ["slm_workbench.styles", "slm_workbench.recipes"])
