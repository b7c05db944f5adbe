"""The engine's fast path: reports that change nothing, decided in bulk in NumPy and kept as columns.

Almost every report a bracelet sends says the same thing as the one before: the wearer is where they are
allowed to be, nothing is open, the battery is fine. For such a report the careful path
(:func:`kuzet.engine.core.advance`) builds an event-time record, walks every rule and appends to the
device's history, only to leave every rule idle. This module decides those reports for a whole batch at
once and keeps what the careful path would have kept, without building a Python object per report:

* A device is *held* here (its state lives in the arrays of :class:`FastPath`, not in its
  :class:`~kuzet.engine.core.DeviceRuntime`) while it is *quiet*: every rule idle, no open tamper, battery,
  location-loss or communication-loss episode, no outlier waiting to be confirmed. Devices with a
  protected-person rule are never held (their decisions depend on another device's track).
* In a batch, a held device's reports are taken in order of arrival while each one is *plain*: in event
  order, new (its ``seq`` above every ``seq`` seen, or its time after the newest without one), a usable
  GPS, Wi-Fi or beacon fix that passes the speed gate, no tamper or battery event, the device not silent
  beyond its timeout, and at least half an error scale on the right side of every zone (so every rule stays
  idle, :data:`kuzet.engine.rules.WEAK_WRONG`). That prefix is applied to the arrays in bulk; the first
  report that is not plain and everything after it for that device go through the careful path, which
  takes the device back first (:meth:`FastPath.take_back`). After a batch, every device the careful path
  touched is held again if it is quiet (:meth:`FastPath.adopt`).
* The prefix's reports are kept as columns in a log (chunks sorted by device and arrival number, merged as
  they grow, expired past the lateness bound). A device's history is materialised from them only when
  something needs it: a late report that rewinds the device, a possible duplicate, a snapshot, a new plan.
  What is materialised is exactly what the careful path would have built (the same :class:`Fix` and
  :class:`DevState` values), so the two paths give the same alerts; ``tests/engine/test_fast.py`` checks
  it on generated streams.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from datetime import datetime
from operator import attrgetter
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from kuzet.domain.enums import Closure, Source
from kuzet.domain.reports import USABLE_ACCURACY_M, DeviceReport

from . import rules
from .core import BATTERY_CRITICAL_PCT, LATE_AFTER_S, DeviceRuntime, DevState, Fix
from .rules import IDLE
from .zones import SOURCE_FLOOR_M, UNKNOWN_ACCURACY_M, ZoneGeometry, ZoneTable

if TYPE_CHECKING:
    from .core import Engine, SubjectSpec

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]

_SOURCES = (Source.GPS, Source.CELL, Source.WIFI, Source.BEACON, Source.NONE)
_CODE = {s: i for i, s in enumerate(_SOURCES)}
_GPS, _CELL, _WIFI, _BEACON, _NONE = range(5)
_FLOOR = np.array([SOURCE_FLOOR_M[s] for s in _SOURCES], dtype=np.float64)
_CLOSURE: dict[Closure | None, int] = {None: 0, Closure.CLOSED: 1, Closure.OPEN: 2}
_IS_TRUE: dict[bool | None, bool] = {None: False, False: False, True: True}
_DEVICE, _TIME, _LON, _LAT, _ACC, _PCT, _SOURCE, _STRAP, _CASE, _EVENTS, _CHARGING, _SEQ = map(attrgetter, (
    "device", "time", "lon", "lat", "accuracy_m", "battery_pct", "source", "strap", "case", "events", "charging",
    "seq"))
_EARTH = math.radians(1.0) * 6_371_008.8  # metres per degree of latitude, as zones.distance_m computes it
#: Columns of the log of plain reports.
#: ``ident`` is the report's ``seq`` where ``has_seq``, else its line number (-1: none). About 58 bytes a report.
_COLUMNS = ("slot", "no", "t", "lon", "lat", "scale", "ident", "has_seq", "beacon", "nstrap", "ncase",
            "battery", "late")
#: Rows appended between two expiry passes at least (a pass reads the whole log).
_EXPIRE_EVERY = 200_000


class _Chunk:
    """Plain reports as columns, sorted by (slot, no)."""

    __slots__ = ("cols", "n")

    def __init__(self, cols: dict[str, Any]) -> None:
        self.cols = cols
        self.n = len(cols["slot"])

    def take(self, keep: Any) -> _Chunk:
        return _Chunk({k: v[keep] for k, v in self.cols.items()})

    @staticmethod
    def merge(a: _Chunk, b: _Chunk) -> _Chunk:
        cols = {k: np.concatenate([a.cols[k], b.cols[k]]) for k in _COLUMNS}
        order = np.lexsort((cols["no"], cols["slot"]))
        return _Chunk({k: v[order] for k, v in cols.items()})


class FastPath:
    """Per-device state of the quiet devices in arrays, the bulk step over a batch, and the log of it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        names = list(engine.owner)
        n = len(names)
        self.names = names
        self.slot_of = {d: i for i, d in enumerate(names)}
        specs = [engine.owner[d] for d in names]
        self.specs = specs
        self.eligible = np.fromiter((all(r.geometry is not None for r in s.rules) for s in specs), bool, n)
        self.owned = self.eligible.copy()
        for d in engine.devices:  # a device with a runtime is decided there until it is adopted
            slot = self.slot_of.get(d)
            if slot is not None:
                self.owned[slot] = False
        self.timeout = np.fromiter((s.timeout for s in specs), np.float64, n)
        self.newest_t = np.full(n, -math.inf)
        self.last_rx = np.full(n, -1.0)
        self.last_rx_t = np.full(n, -1.0)
        self.checked_at = np.full(n, -math.inf)
        self.pushed = np.full(n, math.inf)
        self.a_t = np.full(n, math.nan)
        self.a_lon = np.zeros(n)
        self.a_lat = np.zeros(n)
        self.a_scale = np.zeros(n)
        self.first_t = np.full(n, -1.0)
        self.last_usable = np.full(n, -1.0)
        self.max_seq = np.full(n, -1, dtype=np.int64)
        self.pending = np.zeros(n, dtype=bool)  # the log may hold rows of this slot not materialised yet
        self.mat_no = np.full(n, -1, dtype=np.int64)  # rows with no <= this are materialised
        self.pr_no = np.full(n, -1, dtype=np.int64)  # the newest row expired from the log (-1: none)
        self.pr_t = np.zeros(n)
        self.pr_lon = np.zeros(n)
        self.pr_lat = np.zeros(n)
        self.pr_scale = np.zeros(n)
        self.chunks: list[_Chunk] = []
        self.since_expiry = 0
        self.expire_every = _EXPIRE_EVERY
        self.taken = 0  # reports decided here
        self.expired = 0  # rows dropped from the log past their device's lateness bound
        self._build_rules(specs)

    def _build_rules(self, specs: list[SubjectSpec]) -> None:
        start: list[int] = []
        count: list[int] = []
        incl: list[bool] = []
        geoms: list[ZoneGeometry] = []
        for spec in specs:
            start.append(len(geoms))
            count.append(len(spec.rules) if all(r.geometry is not None for r in spec.rules) else 0)
            if count[-1] == 0:
                continue
            for rule in spec.rules:
                assert rule.geometry is not None
                incl.append(rule.inclusion)
                geoms.append(rule.geometry)
        self.r_start = np.array(start, dtype=np.int64)
        self.r_count = np.array(count, dtype=np.int64)
        self.r_incl = np.array(incl, dtype=bool)
        self.zones = ZoneTable.of(geoms)

    # -- the bulk step --------------------------------------------------------------------------------
    def run(self, reports: Sequence[DeviceReport], tnow: float | F64, refs: Sequence[int | None] | None,
            base_no: int) -> list[int]:
        """Apply the plain prefix of every held device's reports; return the indices left for the careful path.

        ``tnow`` is the server time of arrival, one for the batch or one per report (non-decreasing);
        ``base_no + i + 1`` is the arrival number of ``reports[i]``.
        """
        n = len(reports)
        if n == 0:
            return []
        found = np.array(list(map(self.slot_of.get, map(_DEVICE, reports))), dtype=np.float64)
        slots = np.where(np.isnan(found), -1, found).astype(np.int64)
        known = slots >= 0
        sl = np.where(known, slots, 0)
        cand = known & self.owned[sl]
        if not cand.any():
            return list(range(n))
        idx = np.flatnonzero(known)
        order = idx[np.argsort(slots[idx], kind="stable")]
        picked = [reports[i] for i in order.tolist()]
        m = len(picked)
        s = slots[order]
        tn = np.broadcast_to(np.asarray(tnow, dtype=np.float64), (n,))[order]
        # columns, one C-level pass each (attrgetter, dict lookups): no Python code runs per report
        t = np.fromiter(map(datetime.timestamp, map(_TIME, picked)), np.float64, m)
        lon = np.array(list(map(_LON, picked)), dtype=np.float64)
        lat = np.array(list(map(_LAT, picked)), dtype=np.float64)
        acc = np.array(list(map(_ACC, picked)), dtype=np.float64)
        pct = np.array(list(map(_PCT, picked)), dtype=np.float64)
        src = np.fromiter(map(_CODE.__getitem__, map(_SOURCE, picked)), np.int64, m)
        strap = np.fromiter(map(_CLOSURE.__getitem__, map(_STRAP, picked)), np.int8, m)
        case = np.fromiter(map(_CLOSURE.__getitem__, map(_CASE, picked)), np.int8, m)
        events = np.fromiter(map(bool, map(_EVENTS, picked)), bool, m)
        charging = np.fromiter(map(_IS_TRUE.__getitem__, map(_CHARGING, picked)), bool, m)
        plain = ~events & (strap != 2) & (case != 2)
        nstrap = (strap == 1).astype(np.int8)
        ncase = (case == 1).astype(np.int8)
        seqs = list(map(_SEQ, picked))
        if None in seqs:
            has_seq = np.fromiter((q is not None for q in seqs), bool, m)
            seq = np.fromiter((-1 if q is None else q for q in seqs), np.int64, m)
        else:
            has_seq = np.ones(m, dtype=bool)
            seq = np.array(seqs, dtype=np.int64)
        if refs is None:
            ref = np.full(m, -1, dtype=np.int64)
        else:
            ref = np.fromiter((-1 if refs[i] is None else refs[i] for i in order.tolist()), np.int64, m)
        has_ident = has_seq | (ref >= 0)
        ident = np.where(has_seq, seq, ref)
        no = order.astype(np.int64) + (base_no + 1)

        battery = np.where(np.isnan(pct), np.where(charging, 0, -1),
                           np.where((pct <= BATTERY_CRITICAL_PCT) & ~charging, 1, 0)).astype(np.int8)
        acc_f = np.where(np.isnan(acc), UNKNOWN_ACCURACY_M, acc)
        floor = _FLOOR[src]
        scale = np.where(acc_f > floor, acc_f, floor)
        beacon = src == _BEACON
        has_pos = ~np.isnan(lon) & ~np.isnan(lat) & (src != _NONE)
        usable = beacon | (has_pos & ~np.isnan(acc) & (acc <= USABLE_ACCURACY_M))
        ok = cand[order] & plain & (battery != 1) & has_pos & usable & (src != _CELL)

        gstart = np.empty(m, dtype=bool)
        gstart[0] = True
        gstart[1:] = s[1:] != s[:-1]
        prev_t = np.empty(m)
        prev_t[1:] = t[:-1]
        prev_t[gstart] = self.newest_t[s[gstart]]
        prev_seq = np.empty(m, dtype=np.int64)
        prev_seq[1:] = seq[:-1]
        prev_seq[gstart] = self.max_seq[s[gstart]]
        prev_has = np.empty(m, dtype=bool)
        prev_has[1:] = has_seq[:-1]
        prev_has[gstart] = has_seq[gstart]
        ok &= t >= prev_t  # in event order
        ok &= np.where(has_seq, seq > prev_seq, t > prev_t) & (has_seq == prev_has)  # new, not a duplicate
        rx = np.empty(m)  # the last contact before each report: the previous one's arrival, or the state's
        rx[1:] = tn[:-1]
        rx[gstart] = self.last_rx[s[gstart]]
        ok &= (rx < 0) | (tn - rx <= self.timeout[s])  # not silent beyond its timeout
        # the speed gate against the previous accepted fix (the anchor, or the previous plain report)
        at = np.empty(m)
        alon = np.empty(m)
        alat = np.empty(m)
        ascale = np.empty(m)
        at[1:], alon[1:], alat[1:], ascale[1:] = t[:-1], lon[:-1], lat[:-1], scale[:-1]
        g = s[gstart]
        at[gstart], alon[gstart], alat[gstart], ascale[gstart] = (self.a_t[g], self.a_lon[g], self.a_lat[g],
                                                                  self.a_scale[g])
        with np.errstate(invalid="ignore"):
            kxm = _EARTH * np.cos(np.radians((alat + lat) / 2))
            dx, dy = (lon - alon) * kxm, (lat - alat) * _EARTH
            gate = np.sqrt(dx * dx + dy * dy) <= 60.0 * np.abs(t - at) + 3.0 * (ascale + scale)
        ok &= np.isnan(at) | beacon | gate
        rows = np.flatnonzero(ok)
        if len(rows):
            ok[rows[self._wrong_side(rows, s, lon, lat, scale, beacon)]] = False

        fails = ~ok
        cum = np.cumsum(fails)
        gid = np.cumsum(gstart) - 1
        before = (cum - fails)[np.flatnonzero(gstart)]
        fast = (cum - before[gid]) == 0
        fpos = np.flatnonzero(fast)
        if len(fpos) == 0:
            return list(range(n))

        fs = s[fpos]
        last_mask = np.empty(len(fpos), dtype=bool)
        last_mask[-1] = True
        last_mask[:-1] = fs[1:] != fs[:-1]
        first_mask = np.empty(len(fpos), dtype=bool)
        first_mask[0] = True
        first_mask[1:] = fs[1:] != fs[:-1]
        lp, fp = fpos[last_mask], fpos[first_mask]
        us = s[lp]
        self.newest_t[us] = t[lp]
        self.a_t[us], self.a_lon[us], self.a_lat[us], self.a_scale[us] = t[lp], lon[lp], lat[lp], scale[lp]
        self.last_usable[us] = t[lp]
        ft = self.first_t[us]
        self.first_t[us] = np.where(ft < 0, t[fp], ft)
        self.max_seq[us] = np.maximum(self.max_seq[us], np.where(has_seq[lp], seq[lp], -1))
        self.last_rx[us] = np.maximum(self.last_rx[us], tn[lp])
        self.last_rx_t[us] = np.maximum(self.last_rx_t[us], t[lp])
        self.pending[us] = True
        late = (tn[fpos] - t[fpos]) > LATE_AFTER_S
        self._append(_Chunk({
            "slot": fs.astype(np.int32), "no": no[fpos], "t": t[fpos], "lon": lon[fpos], "lat": lat[fpos],
            "scale": scale[fpos],
            "ident": np.where(has_ident[fpos], ident[fpos], -1), "has_seq": has_seq[fpos],
            "beacon": beacon[fpos], "nstrap": nstrap[fpos], "ncase": ncase[fpos], "battery": battery[fpos],
            "late": late}))
        self._wake(us)

        self.taken += len(fpos)
        slow = np.ones(n, dtype=bool)
        slow[order[fpos]] = False
        return np.flatnonzero(slow).tolist()

    def _wrong_side(self, rows: I64, s: I64, lon: F64, lat: F64, scale: F64, beacon: Mask) -> Mask:
        """For each of ``rows``: is the fix less than half an error scale inside the right side of a zone?"""
        owner, r, d = self._pair_distances(s[rows], lon[rows], lat[rows])
        if len(r) == 0:
            return np.zeros(len(rows), dtype=bool)
        prow = rows[owner]
        incl = self.r_incl[r]
        c = np.where(incl, d, -d) / scale[prow]
        c[beacon[prow] & incl & (d <= 0)] = -math.inf
        bad = c > rules.WEAK_WRONG
        return np.bincount(owner[bad], minlength=len(rows)) > 0

    def distances(self, reports: Sequence[DeviceReport]) -> list[tuple[float, ...] | None] | None:
        """Signed distance to every zone of its device for each report, from the zone tables in one pass.

        ``None`` (for the whole batch) when a report belongs to a device outside the tables (one with a
        protected-person rule), so that the caller computes the batch the general way.
        """
        n = len(reports)
        found = np.array(list(map(self.slot_of.get, map(_DEVICE, reports))), dtype=np.float64)
        lon = np.array(list(map(_LON, reports)), dtype=np.float64)
        lat = np.array(list(map(_LAT, reports)), dtype=np.float64)
        with_pos = ~np.isnan(found) & ~np.isnan(lon) & ~np.isnan(lat)
        rows = np.flatnonzero(with_pos)
        slots = found[rows].astype(np.int64)
        if not self.eligible[slots].all():
            return None
        out: list[tuple[float, ...] | None] = [None] * n
        _, _, d = self._pair_distances(slots, lon[rows], lat[rows])
        counts = self.r_count[slots]
        bounds = np.cumsum(counts).tolist()
        flat = d.tolist()
        lo = 0
        for k, i in enumerate(rows.tolist()):
            hi = bounds[k]
            if hi > lo:
                out[i] = tuple(flat[lo:hi])
            lo = hi
        return out

    def _pair_distances(self, slots: I64, lon: F64, lat: F64) -> tuple[I64, I64, F64]:
        """Every (fix, zone of its device) pair: the fix's index, the zone's row in the tables, the distance."""
        counts = self.r_count[slots]
        total = int(counts.sum())
        owner = np.repeat(np.arange(len(slots)), counts)
        offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
        r = np.repeat(self.r_start[slots], counts) + offsets
        d = self.zones.signed_distances(r, lon[owner], lat[owner])
        return owner, r, d

    def _wake(self, us: I64) -> None:
        """The careful path's ``_reschedule`` for held devices: the timer heap wakes a device when it falls silent."""
        due = self.last_rx[us] + self.timeout[us]
        need = (due > self.checked_at[us]) & (self.pushed[us] > due)
        if not need.any():
            return
        engine = self.engine
        for slot, when in zip(us[need].tolist(), due[need].tolist(), strict=True):
            rt = self._runtime(slot)
            rt.version += 1
            rt.pushed = when
            self.pushed[slot] = when
            engine.counter += 1
            heapq.heappush(engine.heap, (when, engine.counter, rt.device, rt.version))

    def _runtime(self, slot: int) -> DeviceRuntime:
        name = self.names[slot]
        rt = self.engine.devices.get(name)
        if rt is None:
            rt = self.engine.devices[name] = DeviceRuntime(name, self.specs[slot])
        return rt

    # -- handing devices over -------------------------------------------------------------------------
    def take_back(self, rt: DeviceRuntime) -> None:
        """Move a held device's state into its runtime, for the careful path (its history stays as columns).

        The runtime's timer fields (``version``, ``pushed``) are always current: :meth:`_wake` sets both.
        """
        slot = self.slot_of.get(rt.device)
        if slot is None or not self.owned[slot]:
            return
        self.owned[slot] = False
        at = float(self.a_t[slot])
        anchor = None if at != at else (at, float(self.a_lon[slot]), float(self.a_lat[slot]),
                                         float(self.a_scale[slot]))
        rt.state = DevState(tuple(IDLE for _ in rt.subject.rules), anchor, None, float(self.first_t[slot]),
                            float(self.last_usable[slot]))
        rt.newest_t = float(self.newest_t[slot])
        rt.last_rx = float(self.last_rx[slot])
        rt.last_rx_t = float(self.last_rx_t[slot])
        rt.checked_at = float(self.checked_at[slot])
        rt.max_seq = int(self.max_seq[slot])
        rt.comm_since = -1.0

    def adopt(self, rt: DeviceRuntime) -> None:
        """Hold a device again if it is quiet (nothing open, every rule idle)."""
        slot = self.slot_of.get(rt.device)
        if slot is None or self.owned[slot] or not self.eligible[slot] or rt.comm_since >= 0:
            return
        st = rt.state
        if st.cand is not None or st.loc_since >= 0 or st.strap_since >= 0 or st.case_since >= 0 \
                or st.batt_since >= 0 or st.strap_ev != -1 or st.case_ev != -1 or st.batt_ev != -1:
            return
        for r in st.rules:
            if r is not IDLE:
                return
        if st.anchor is None:
            self.a_t[slot] = math.nan
        else:
            self.a_t[slot], self.a_lon[slot], self.a_lat[slot], self.a_scale[slot] = st.anchor
        self.first_t[slot] = st.first_t
        self.last_usable[slot] = st.last_usable
        self.newest_t[slot] = rt.newest_t
        self.last_rx[slot] = rt.last_rx
        self.last_rx_t[slot] = rt.last_rx_t
        self.checked_at[slot] = rt.checked_at
        self.pushed[slot] = rt.pushed
        self.max_seq[slot] = rt.max_seq
        self.owned[slot] = True

    def restored(self, rt: DeviceRuntime) -> None:
        """A runtime restored from a checkpoint decides its device until it is adopted."""
        slot = self.slot_of.get(rt.device)
        if slot is not None:
            self.owned[slot] = False

    def hand_over_states(self) -> list[DeviceRuntime]:
        """Take back the state (not the history) of every held device that has reported; return them."""
        active = np.flatnonzero(self.owned & (self.last_rx >= 0)).tolist()
        out = [self._runtime(slot) for slot in active]
        for rt in out:
            self.take_back(rt)
        return out

    def snapshot_log(self) -> dict[str, Any]:
        """The reports kept as columns and what is known of each device's part of them, as plain values."""
        live = [c.take(c.cols["no"] > self.mat_no[c.cols["slot"]]) for c in self.chunks]
        cols = {k: np.concatenate([c.cols[k] for c in live]) if live else np.zeros(0) for k in _COLUMNS}
        slots = np.flatnonzero(self.pending)
        return {
            "names": [self.names[i] for i in slots.tolist()],
            "mat_no": self.mat_no[slots].tolist(), "pr_no": self.pr_no[slots].tolist(),
            "pr": np.stack([self.pr_t[slots], self.pr_lon[slots], self.pr_lat[slots],
                            self.pr_scale[slots]]).T.tolist(),
            "slot_names": self.names if len(cols["slot"]) else [],
            "columns": {k: [str(v.dtype), v.tobytes()] for k, v in cols.items()},
        }

    def restore_log(self, raw: dict[str, Any], keep: set[str]) -> None:
        """Take back the columns of a snapshot, for the devices in ``keep`` still decided the same way."""
        cols = {k: np.frombuffer(data, dtype=np.dtype(dtype)).copy() for k, (dtype, data) in raw["columns"].items()}
        old_names: list[str] = raw["slot_names"]
        remap = np.array([self.slot_of.get(n, -1) if n in keep else -1 for n in old_names] or [-1],
                         dtype=np.int64)
        for name, mat_no, pr_no, pr in zip(raw["names"], raw["mat_no"], raw["pr_no"], raw["pr"], strict=True):
            slot = self.slot_of.get(name)
            if slot is None or name not in keep or not self.eligible[slot]:
                continue
            rt = self.engine.devices[name]
            self.pending[slot] = True
            self.mat_no[slot] = mat_no
            self.pr_no[slot] = pr_no
            self.pr_t[slot], self.pr_lon[slot], self.pr_lat[slot], self.pr_scale[slot] = pr
            self.first_t[slot] = rt.state.first_t
        if len(cols.get("slot", ())) == 0:
            return
        cols["slot"] = remap[cols["slot"]].astype(np.int32)
        ok = cols["slot"] >= 0
        ok[ok] = self.pending[cols["slot"][ok]]
        order = np.lexsort((cols["no"][ok], cols["slot"][ok]))
        chunk = _Chunk({k: v[ok][order] for k, v in cols.items()})
        if chunk.n:
            self.chunks = [chunk]

    def release_all(self) -> None:
        """Take back and materialise every device (before a new plan); each then has its runtime."""
        self.hand_over_states()
        for slot in np.flatnonzero(self.pending).tolist():
            self.materialize(self._runtime(slot))

    # -- the log --------------------------------------------------------------------------------------
    def _append(self, chunk: _Chunk) -> None:
        self.chunks.append(chunk)
        self.since_expiry += chunk.n
        while len(self.chunks) >= 2 and self.chunks[-1].n * 2 >= self.chunks[-2].n:
            b, a = self.chunks.pop(), self.chunks.pop()
            merged = _Chunk.merge(a, b)
            self.chunks.append(merged.take(merged.cols["no"] > self.mat_no[merged.cols["slot"]]))
        if self.since_expiry >= max(self.expire_every, sum(c.n for c in self.chunks) // 2):
            self._expire()

    def _expire(self) -> None:
        """Drop rows already materialised and rows past their device's lateness bound (noting the newest)."""
        self.since_expiry = 0
        lateness = self.engine.lateness
        kept = []
        for chunk in self.chunks:
            slot, no, t = chunk.cols["slot"], chunk.cols["no"], chunk.cols["t"]
            live = no > self.mat_no[slot]
            expired = live & (t < self.newest_t[slot] - lateness)
            if expired.any():
                ei = np.flatnonzero(expired)
                es = slot[ei]
                last = np.empty(len(ei), dtype=bool)  # rows are sorted by (slot, no): the last of each slot
                last[-1] = True
                last[:-1] = es[1:] != es[:-1]
                li = ei[last]
                ls = slot[li]
                newer = no[li] > self.pr_no[ls]
                li, ls = li[newer], ls[newer]
                self.pr_no[ls] = no[li]
                self.pr_t[ls] = t[li]
                self.pr_lon[ls] = chunk.cols["lon"][li]
                self.pr_lat[ls] = chunk.cols["lat"][li]
                self.pr_scale[ls] = chunk.cols["scale"][li]
            self.expired += int(expired.sum())
            keep = live & ~expired
            if not keep.all():
                chunk = chunk.take(keep)
            if chunk.n:
                kept.append(chunk)
        self.chunks = kept

    def _rows(self, slot: int, after: int) -> dict[str, Any]:
        parts = []
        for chunk in self.chunks:
            col = chunk.cols["slot"]
            lo = int(np.searchsorted(col, slot, "left"))
            hi = int(np.searchsorted(col, slot, "right"))
            if hi > lo:
                sel = np.arange(lo, hi)
                sel = sel[chunk.cols["no"][lo:hi] > after]
                if len(sel):
                    parts.append({k: v[sel] for k, v in chunk.cols.items()})
        if not parts:
            return {k: [] for k in _COLUMNS}
        cols = {k: np.concatenate([p[k] for p in parts]) for k in _COLUMNS}
        order = np.argsort(cols["no"], kind="stable")
        return {k: v[order].tolist() for k, v in cols.items()}

    def materialize(self, rt: DeviceRuntime) -> None:
        """Build the device's history entries for its rows still held as columns, merged in (t, no) order.

        Gives the entries the careful path would have appended (and the duplicate keys it would have kept);
        rows that expired from the log are accounted for by moving the history's base past them.
        """
        slot = self.slot_of.get(rt.device)
        if slot is None or not self.pending[slot]:
            return
        cols = self._rows(slot, int(self.mat_no[slot]))
        self.mat_no[slot] = self.engine.no
        self.pending[slot] = False
        spec = rt.subject
        idle = tuple(IDLE for _ in spec.rules)
        first_t = float(self.first_t[slot])
        cut, base = rt.base_key, rt.base
        if self.pr_no[slot] >= 0:
            pr = (float(self.pr_t[slot]), int(self.pr_no[slot]))
            if pr > cut:
                cut = pr
                base = DevState(idle, (pr[0], float(self.pr_lon[slot]), float(self.pr_lat[slot]),
                                       float(self.pr_scale[slot])), None, first_t, pr[0])
            self.pr_no[slot] = -1
        entries = [(t, f.no, f, st) for t, f, st in zip(rt.hist_t, rt.hist_fix, rt.hist_state, strict=True)]
        seen = rt.seen
        for t, no, lon, lat, scale, ident, has_seq, beacon, nstrap, ncase, battery, late in zip(
                *(cols[k] for k in ("t", "no", "lon", "lat", "scale", "ident", "has_seq", "beacon", "nstrap",
                                    "ncase", "battery", "late")), strict=True):
            if (t, no) <= cut:
                continue
            cs = []
            for rule in spec.rules:
                g = rule.geometry
                assert g is not None
                d = g.signed_distance(lon, lat)
                if beacon and rule.inclusion and d <= 0:
                    cs.append(-math.inf)
                else:
                    cs.append((d if rule.inclusion else -d) / scale)
            fix = Fix(t, None if ident < 0 else ident, True, lon, lat, scale, beacon, True, tuple(cs),
                      (False,) * nstrap, (False,) * ncase, battery, late, False, no)
            entries.append((t, no, fix, DevState(idle, (t, lon, lat, scale), None, first_t, t)))
            key: Any = ident if has_seq else ("t", t)
            if key not in seen:
                seen[key] = t
        entries.sort(key=lambda e: (e[0], e[1]))
        entries = [e for e in entries if (e[0], e[1]) > cut]
        rt.hist_t = [e[0] for e in entries]
        rt.hist_fix = [e[2] for e in entries]
        rt.hist_state = [e[3] for e in entries]
        rt.base, rt.base_key = base, cut

