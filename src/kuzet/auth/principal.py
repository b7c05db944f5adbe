"""The authenticated caller as every service sees it: a frozen value, built once per request."""

from __future__ import annotations

from dataclasses import dataclass

from kuzet.audit import Actor
from kuzet.domain.enums import Role


@dataclass(frozen=True, slots=True)
class Principal:
    """A signed-in user: their role and the region, unit or partner organisation it is scoped to."""

    user_id: int
    username: str
    role: Role
    region_id: int | None = None
    unit_id: int | None = None
    partner_id: int | None = None
    locale: str = "ru"
    timezone: str = "Asia/Almaty"

    @property
    def actor(self) -> Actor:
        """The audit trail's view of this principal."""
        return Actor(self.user_id, self.username, self.role.value)

    def has_role(self, *roles: Role) -> bool:
        return self.role in roles
