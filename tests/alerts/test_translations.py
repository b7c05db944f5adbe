"""Every text of the alert pages and messages exists in Kazakh, Russian and English."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kuzet import i18n
from kuzet.alerts.vocabulary import AbsenceReason, ActionKind, CaseworkStep, DeliveryStatus, EscalationReason, Outcome

TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "kuzet" / "alerts" / "templates"
NOTIFICATIONS = TEMPLATES.parent / "notifications.py"
LITERAL = re.compile(r"""_\("([^"]+)"\)|_\('([^']+)'\)""")
TEXT = re.compile(r"""_text\([a-z.]+, "([^"]+)"\)|_text\([a-z.]+, '([^']+)'\)""")


def msgids() -> set[str]:
    found = {m.group(1) or m.group(2) for path in TEMPLATES.glob("*.html")
             for m in LITERAL.finditer(path.read_text())}
    found |= {m.group(1) or m.group(2) for m in TEXT.finditer(NOTIFICATIONS.read_text())}
    found = {m for m in found if not m.endswith(":")}
    found |= {"Queue", "Handover", "Alert settings",
              "Warning: the person you are protected from may be near you. Go to a safe place. "
              "Police are being informed."}
    found |= {f"outcome:{o.value}" for o in Outcome} | {f"alert-action:{k.value}" for k in ActionKind}
    found |= {f"alert-action:{k}" for k in ("claim", "acknowledge", "close", "escalate")}
    found |= {f"alert-action:casework_{s.value}" for s in CaseworkStep} | {f"casework:{s.value}" for s in CaseworkStep}
    found |= {f"delivery:{d.value}" for d in DeliveryStatus}
    found |= {f"escalation:{r.value}" for r in EscalationReason} | {f"absence:{r.value}" for r in AbsenceReason}
    return found


@pytest.mark.parametrize("locale", ["kk", "ru", "en"])
def test_every_alert_workflow_text_is_translated(locale: str) -> None:
    catalogue = i18n.catalogue(locale)
    missing = sorted(m for m in msgids() if not (catalogue.get(m) and catalogue.get(m).string))  # type: ignore[union-attr]
    assert not missing, f"{locale}: {missing}"
