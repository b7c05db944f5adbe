"""The web tests' two-region world and app (module-scoped) for the casework API and page tests."""

from tests.web.conftest import app, client, factory, world, world_db

__all__ = ["app", "client", "factory", "world", "world_db"]
