"""Import every module that defines models, so that Alembic and ``create_all`` see the whole schema.

A capability that adds tables adds its models module to ``MODEL_MODULES``.
"""

from __future__ import annotations

import importlib

from .models import Base

MODEL_MODULES: tuple[str, ...] = ("kuzet.store.models", "kuzet.devices.models", "kuzet.monitor.models",
                                 "kuzet.auth.models", "kuzet.audit.models", "kuzet.privacy.models",
                                 "kuzet.alerts.models", "kuzet.casework.models",
                                 "kuzet.gateway.models")

for _name in MODEL_MODULES:
    importlib.import_module(_name)

metadata = Base.metadata
