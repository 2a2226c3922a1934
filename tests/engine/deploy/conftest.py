from tests.export_fixtures import tiny_variants  # noqa: F401
