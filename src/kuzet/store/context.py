"""The process-wide store: one engine and session factory per database URL."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from .db import make_engine, session_factory


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    return make_engine(url)


def sessions_for(url: str) -> sessionmaker[Session]:
    return session_factory(engine_for(url))
