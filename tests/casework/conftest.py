"""The web tests' two-region world and app (module-scoped) for the casework API and page tests."""

from tests.web.conftest import app, client, factory, world, world_db, world_template

__all__ = ["app", "client", "factory", "world", "world_db", "world_template"]
