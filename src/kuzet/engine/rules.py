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
#: Strongly wrong fixes further apart than this, with fixes between them that did not confirm the wrong side,
#: do not add up: the second starts a new run (minutes of uninformative fixes between two outliers must not
#: make them look like a sustained absence). A gap with no position at all (indoors) keeps the chain.
STRONG_CHAIN_S = 600.0
#: Fixes in a row on the wrong side needed at the moment of raising: a lone jump out of a run of fixes that
#: did not say "wrong" (a multipath outlier passes any speed gate at one fix a minute) proves nothing yet.
MIN_WRONG_ROW = 2
#: Evidence kept per episode (the first fixes that proved it).
MAX_EVIDENCE = 30

NEVER = math.inf


class RuleState(NamedTuple):
    """Side of one rule for one device, in event time."""

    wrong: bool = False  # in a wrong-side run
    since: float = 0.0  # time of the first wrong-side fix of the run
    strong: int = 0  # strongly wrong fixes in the run
    total: int = 0  # fixes in the run
    exit_since: float = -1.0  # first right-side fix while leaving; -1 when not leaving
    exit_n: int = 0
    raised: bool = False  # a violation episode is open for this run
    ep_start: float = 0.0
    ep_limit: float = NEVER  # end of the schedule window the open episode lies in
    evidence: tuple[int, ...] = ()
    last_strong: float = -1.0  # time of the run's latest strongly wrong fix
    latest_wrong: bool = False  # the latest fix with a position was at least weakly on the wrong side
    usable_says: int = -1  # the latest usable fix (<= 100 m): 1 strongly wrong, 0 not, -1 none in the run
    neutral_n: int = 0  # fixes with a position since the latest strongly wrong one that were not strong
    wrong_row: int = 0  # fixes with a position in a row, up to the latest, at least weakly on the wrong side


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
         grace: float, usable: bool = True) -> tuple[RuleState, Emission | None]:
    """Advance one rule by one accepted fix at event time ``t``.

    ``window`` is the active schedule interval containing ``t`` (``None`` when the rule is not active);
    ``grace`` is in seconds; ``usable`` says whether the fix is accurate enough to decide zones on its own
    (FORMAT.md: 100 m or better, or a home beacon). Until a violation is raised, any fix on the right side (beyond
    ``RESET_RIGHT``) cancels the run; once raised, ``EXIT_FIXES`` such fixes in a row end it, and a strongly
    wrong fix in between starts the count again.
    """
    strong_fix = c > STRONG_WRONG
    if not state.wrong:
        if c <= WEAK_WRONG:
            return state, None
        state = RuleState(True, t, 1 if strong_fix else 0, 1, -1.0, 0, False, 0.0, NEVER,
                          _add_evidence((), ident) if strong_fix else (), t if strong_fix else -1.0, True,
                          (1 if strong_fix else 0) if usable else -1, 0, 1)
    elif c < RESET_RIGHT:
        if not state.raised:
            return IDLE, None
        exit_since = t if state.exit_since < 0 else state.exit_since
        if state.exit_n + 1 >= EXIT_FIXES:
            end = max(exit_since, state.ep_start)
            return IDLE, Emission("close", state.ep_start, end, confidence_of(state), state.evidence)
        state = state._replace(exit_since=exit_since, exit_n=state.exit_n + 1, total=state.total + 1,
                               latest_wrong=False, usable_says=0 if usable else state.usable_says, wrong_row=0)
    elif strong_fix and not state.raised and state.last_strong >= 0 and t - state.last_strong > STRONG_CHAIN_S \
            and state.neutral_n > 0:
        state = RuleState(True, t, 1, 1, -1.0, 0, False, 0.0, NEVER, _add_evidence((), ident), t, True,
                          1 if usable else -1, 0, state.wrong_row + 1)
    elif strong_fix:
        state = state._replace(strong=state.strong + 1, total=state.total + 1, exit_since=-1.0, exit_n=0,
                               evidence=_add_evidence(state.evidence, ident), last_strong=t, latest_wrong=True,
                               usable_says=1 if usable else state.usable_says, neutral_n=0,
                               wrong_row=state.wrong_row + 1)
    elif c > WEAK_WRONG and state.exit_n > 0:
        # a fix back on the wrong side breaks the count of right-side fixes in a row
        state = state._replace(total=state.total + 1, exit_since=-1.0, exit_n=0, latest_wrong=True,
                               usable_says=0 if usable else state.usable_says, neutral_n=state.neutral_n + 1,
                               wrong_row=state.wrong_row + 1)
    else:
        state = state._replace(total=state.total + 1, latest_wrong=c > WEAK_WRONG,
                               usable_says=0 if usable else state.usable_says, neutral_n=state.neutral_n + 1,
                               wrong_row=state.wrong_row + 1 if c > WEAK_WRONG else 0)
    return check(state, t, window, grace)


def due(state: RuleState, window: Window | None, grace: float) -> float | None:
    """When the grace of a pending run in ``window`` runs out, if the evidence already suffices for it."""
    if state.raised or not state.wrong or state.strong < MIN_STRONG or not state.latest_wrong:
        return None
    if window is None:
        return None
    if state.wrong_row < MIN_WRONG_ROW:
        return None  # the latest fix jumped out alone: wait for the next one to agree
    if state.usable_says == 0:
        return None  # the latest accurate fix does not confirm it: wait for one that does
    if state.last_strong < window[0] - grace:
        # A violation rests on positional evidence from the time it claims: strong fixes from long before
        # the window opened (a device that went silent at work in the evening) prove nothing about the
        # window. A fix within one grace of the opening still stands for it (the subject could not have got
        # back in time without it showing); anything older waits for a fresh fix in the window.
        return None
    return max(state.since, window[0]) + grace


def check(state: RuleState, t: float, window: Window | None, grace: float) -> tuple[RuleState, Emission | None]:
    """Raise or close on time alone: the grace has run out, or the schedule window has ended.

    A pending run is raised once its grace (from the crossing, or from the window's start for a subject
    already outside) has run out, provided it has ``MIN_STRONG`` strongly wrong fixes, the
    latest fix still puts the subject on the wrong side, and the latest accurate fix (if any) strongly so.
    """
    if state.raised:
        if t >= state.ep_limit:
            end = state.ep_limit
            emission = Emission("close", state.ep_start, end, confidence_of(state), state.evidence)
            return state._replace(raised=False, ep_start=0.0, ep_limit=NEVER), emission
        return state, None
    deadline = due(state, window, grace)
    if deadline is None or window is None:
        return state, None
    start = max(state.since, window[0])
    if t >= deadline and start < window[1]:
        state = state._replace(raised=True, ep_start=start, ep_limit=window[1])
        return state, Emission("raise", start, None, confidence_of(state), state.evidence)
    return state, None
