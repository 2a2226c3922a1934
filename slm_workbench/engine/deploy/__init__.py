"""Deployment targets: packages, conversions, the load benchmark."""
