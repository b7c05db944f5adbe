"""Every text of the fleet pages exists in Kazakh, Russian and English, including the state and flag names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kuzet import i18n
from kuzet.devices.addresscheck import AddressVerdict
from kuzet.devices.health import FlagCode
from kuzet.devices.leasing import Finding
from kuzet.devices.states import DeviceStatus, LifecycleAction

TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "kuzet" / "devices" / "templates" / "devices"
LITERAL = re.compile(r"""_\((["'])([^"']+)\1\)""")


def msgids() -> set[str]:
    found = {m.group(2) for path in TEMPLATES.glob("*.html") for m in LITERAL.finditer(path.read_text())}
    found |= {f"status:{s.value}" for s in DeviceStatus} | {"status:not_registered"}
    found |= {f"action:{a.value}" for a in LifecycleAction}
    found |= {f"flag:{f.value}" for f in FlagCode} | {f"address:{v.value}" for v in AddressVerdict}
    found |= {f"finding:{f.value}" for f in Finding}
    found |= {f"invoice:{s}" for s in ("received", "reconciled", "disputed")}
    return found


@pytest.mark.parametrize("locale", ["kk", "ru", "en"])
def test_every_fleet_text_is_translated(locale: str) -> None:
    catalogue = i18n.catalogue(locale)
    missing = sorted(m for m in msgids() if not (catalogue.get(m) and catalogue.get(m).string))
    assert not missing, f"{locale}: {missing}"
