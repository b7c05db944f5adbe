"""The monitoring engine: alert detectors in event time, pure (time is passed in, no I/O).

``Engine`` is the one implementation used by the live monitor and by ``kuzet replay``; ``replay`` and
``score`` run it over exchange-format bundles; ``NaiveEngine`` is the per-fix baseline it is compared with.
"""

from .core import DEFAULT_LATENESS, AlertChange, Engine
from .naive import NaiveEngine
from .replay import Score, bundle_days, replay, score, score_bundle

__all__ = ["DEFAULT_LATENESS", "AlertChange", "Engine", "NaiveEngine", "Score", "bundle_days", "replay", "score",
           "score_bundle"]
