"""The web tests' two-region world and app, for the casework API, page, route and browser tests: every fixture
of ``tests/web/conftest.py`` is made available here, so a fixture added there is picked up without an edit."""

from tests.web.conftest import *  # noqa: F403 - re-export the web fixtures as they are
