"""Pure per-rule state machines of the monitoring engine: zone sides with grace, dwell and hysteresis.

Every function here is a pure transition ``(state, input) -> (state, emission)`` over immutable tuples, so
that a device's history can be rewound and re-run when a late report lands in the past. Times are float
seconds since the epoch (event time). Nothing here reads a clock or does I/O.

A fix is turned into a *normalised wrong-side distance* ``c``: how far the subject is on the wrong side of
the rule (outside an inclusion zone, inside an exclusion zone, closer than the protected distance), in
units of the fix's own error scale. ``c > STRONG_WRONG`` is evidence of a violation, ``c < STRONG_RIGHT``
evidence of compliance; anything between is treated as uncertain and only keeps the current state.
"""

from __future__ import annotations

import math
from typing import NamedTuple

#: A fix counts as evidence of the wrong side beyond this many error scales (errors are correlated over
#: minutes, so several fixes a little outside prove little; heavy tails also need MIN_STRONG fixes).
STRONG_WRONG = 3.0
#: A fix at least this far on the wrong side starts a candidate run (its time is the episode's start).
WEAK_WRONG = 0.5
#: A fix this far on the right side cancels a candidate run that has not yet got two strong fixes.
RESET_RIGHT = -0.5
#: A fix this far on the right side (or a home-beacon contact) counts towards leaving a violation.
STRONG_RIGHT = -1.0
#: Strong wrong-side fixes needed before a violation may be raised: one fix is never enough (outliers).
MIN_STRONG = 2
#: Right-side fixes needed to end a violation (hysteresis against a single fix landing inside).
EXIT_FIXES = 2
#: Evidence kept per episode (the first fixes that proved it).
MAX_EVIDENCE = 30

NEVER = math.inf


class RuleState(NamedTuple):
    """Side of one rule for one device, in event time."""

    wrong: bool = False  # in a wrong-side run
    since: float = 0.0  # time of the first wrong-side fix of the run
    strong: int = 0  # strongly wrong fixes in the run
    total: int = 0  # fixes in the run
    exit_since: float = -1.0  # first strong right fix while leaving; -1 when not leaving
    exit_n: int = 0
    raised: bool = False  # a violation episode is open for this run
    ep_start: float = 0.0
    ep_limit: float = NEVER  # end of the schedule window the open episode lies in
    evidence: tuple[int, ...] = ()


IDLE = RuleState()

Window = tuple[float, float]


class Emission(NamedTuple):
    """What a transition asks the engine to publish."""

    action: str  # "raise" or "close"
    start: float
    end: float | None
    confidence: float
    evidence: tuple[int, ...]


def confidence_of(state: RuleState) -> float:
    """Share of the run's fixes that were strong evidence, squeezed into [0.5, 0.99]."""
    if state.total <= 0:
        return 0.5
    return round(min(0.99, 0.5 + 0.5 * state.strong / state.total), 3)


def _add_evidence(evidence: tuple[int, ...], ident: int | None) -> tuple[int, ...]:
    if ident is None or len(evidence) >= MAX_EVIDENCE:
        return evidence
    return (*evidence, ident)


def step(state: RuleState, t: float, c: float, ident: int | None, window: Window | None,
         grace: float) -> tuple[RuleState, Emission | None]:
    """Advance one rule by one accepted fix at event time ``t``.

    ``window`` is the active schedule interval containing ``t`` (``None`` when the rule is not active);
    ``grace`` is in seconds.
    """
    emission: Emission | None = None
    if not state.wrong:
        if c <= WEAK_WRONG:
            return state, None
        state = RuleState(True, t, 1 if c > STRONG_WRONG else 0, 1, -1.0, 0, False, 0.0, NEVER,
                          _add_evidence((), ident))
    else:
        solid = state.strong >= MIN_STRONG or state.raised
        if c < RESET_RIGHT and not solid:
            return IDLE, None
        if c < STRONG_RIGHT:
            exit_since = t if state.exit_since < 0 else state.exit_since
            exit_n = state.exit_n + 1
            if exit_n >= EXIT_FIXES:
                if state.raised:
                    end = max(exit_since, state.ep_start)
                    emission = Emission("close", state.ep_start, end, confidence_of(state), state.evidence)
                return IDLE, emission
            state = state._replace(exit_since=exit_since, exit_n=exit_n, total=state.total + 1)
        elif c > STRONG_WRONG:
            state = state._replace(strong=state.strong + 1, total=state.total + 1, exit_since=-1.0, exit_n=0,
                                   evidence=_add_evidence(state.evidence, ident))
        else:
            state = state._replace(total=state.total + 1)
    return check(state, t, window, grace)


def check(state: RuleState, t: float, window: Window | None, grace: float) -> tuple[RuleState, Emission | None]:
    """Raise or close on time alone: the grace has run out, or the schedule window has ended."""
    if state.raised:
        if t >= state.ep_limit:
            end = state.ep_limit
            emission = Emission("close", state.ep_start, end, confidence_of(state), state.evidence)
            return state._replace(raised=False, ep_start=0.0, ep_limit=NEVER), emission
        return state, None
    if not state.wrong or state.strong < MIN_STRONG or window is None or state.exit_n > 0:
        return state, None
    start = max(state.since, window[0])
    if t >= start + grace and start < window[1]:
        state = state._replace(raised=True, ep_start=start, ep_limit=window[1])
        return state, Emission("raise", start, None, confidence_of(state), state.evidence)
    return state, None
