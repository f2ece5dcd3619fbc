"""Per-unit rollups give the same sufficient statistics as the raw events (to 1e-9), on SQLite and
PostgreSQL, under randomized traffic with late, out-of-order and replayed events, and stay exact
when ingest transactions commit around a refresh in either order."""

from __future__ import annotations

import dataclasses
import textwrap
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import text

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
NOW = START + timedelta(days=30)
WINDOWS = {"gift-wrap": 48, "warranty": 168}
GROUPS = (None, "day", "epoch", "propensity", "segment")


def experiment_yaml(key: str, window_hours: int) -> str:
    return textwrap.dedent(
        f"""\
        key: {key}
        name: Offer test {key}
        placement: checkout
        kind: cross_sell
        status: running
        allocation: fixed
        control: none
        attribution_window_hours: {window_hours}
        variants:
          - key: none
            name: No offer
            weight: 0.5
          - key: offer
            name: The offer
            weight: 0.5
            offer: {{product: Gift wrap, price: 4.0, currency: EUR}}
        """
    )


@pytest.fixture
def experiments(apply_yaml, sessions) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Two running experiments with different attribution windows: {key: id}."""
    from offerlab.storage.db import session_scope
    from offerlab.storage.experiments import find_experiment_id

    for key, hours in WINDOWS.items():
        apply_yaml(experiment_yaml(key, hours))
    with session_scope(sessions) as session:
        return {key: find_experiment_id(session, key) for key in WINDOWS}


class Traffic:
    """Random storefront events: impressions, acceptances, orders, refunds and replays."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.sequence = 0

    def moment(self, low_hours: float, high_hours: float) -> datetime:
        return START + timedelta(hours=float(self.rng.uniform(low_hours, high_hours)))

    def event(self, kind: str, visitor: str, when: datetime, **fields: Any) -> dict[str, Any]:
        self.sequence += 1
        return {
            "event_id": f"{kind[0]}{self.sequence}",
            "type": kind,
            "visitor_id": visitor,
            "timestamp": when.isoformat(),
            **fields,
        }

    def impression(self, experiment: str, visitor: str, when: datetime) -> dict[str, Any]:
        attributes: dict[str, Any] = {"device": str(self.rng.choice(["mobile", "desktop"]))}
        spend = self.rng.uniform()
        if spend < 0.7:
            attributes["spend_30d"] = round(float(self.rng.gamma(2.0, 40.0)), 2)
        elif spend < 0.8:
            attributes["spend_30d"] = "unknown"
        return self.event(
            "impression",
            visitor,
            when,
            experiment=experiment,
            variant=str(self.rng.choice(["none", "offer"])),
            attributes=attributes,
            allocation_version=int(self.rng.integers(1, 3)),
            probability=float(self.rng.choice([0.5, 0.25])),
            measurement=bool(self.rng.uniform() < 0.3),
        )

    def visitor_events(self, visitor: str) -> list[dict[str, Any]]:
        """One visitor's events: an order may precede the first impression or miss the window."""
        events = []
        for experiment in WINDOWS:
            if self.rng.uniform() < 0.6:
                for _ in range(int(self.rng.integers(1, 4))):
                    seen = self.impression(experiment, visitor, self.moment(24, 200))
                    events.append(seen)
                    if self.rng.uniform() < 0.3:
                        value = round(float(self.rng.uniform(2, 30)), 2)
                        fields = {k: seen[k] for k in ("experiment", "variant")}
                        events.append(
                            self.event(
                                "acceptance", visitor, self.moment(24, 220), value=value, **fields
                            )
                        )
        for _ in range(int(self.rng.poisson(1.2))):
            order_id = f"o{self.sequence}-{visitor}"
            value = round(float(self.rng.lognormal(3.5, 0.8)), 2)
            placed = self.moment(0, 400)
            events.append(self.event("order", visitor, placed, order_id=order_id, value=value))
            if self.rng.uniform() < 0.25:
                refunded = round(value * float(self.rng.choice([1.0, 0.5])), 2)
                later = placed + timedelta(days=2)
                events.append(
                    self.event("refund", visitor, later, order_id=order_id, value=refunded)
                )
        return events

    def batches(self, visitors: int, count: int) -> list[list[dict[str, Any]]]:
        """The visitors' events shuffled over `count` batches, with replays of earlier events."""
        events = [e for v in range(visitors) for e in self.visitor_events(f"shopper-{v}")]
        order = self.rng.permutation(len(events))
        shuffled = [events[i] for i in order]
        size = -(-len(shuffled) // count)
        batches = [shuffled[i : i + size] for i in range(0, len(shuffled), size)]
        for index in range(1, len(batches)):
            replays = self.rng.choice(index * size, size=min(10, index * size), replace=False)
            batches[index] = batches[index] + [shuffled[int(i)] for i in replays]
        return batches


def ingest(sessions, batch) -> None:  # type: ignore[no-untyped-def]
    from offerlab.services.ingest import ingest_batch
    from offerlab.storage.db import session_scope

    with session_scope(sessions) as session:
        result = ingest_batch(session, batch, now=NOW, key_id=1)
    assert result.rejected == []


def all_options(window_hours: int) -> list[Any]:
    from offerlab.storage.aggregates import AggregateOptions

    return [
        AggregateOptions(window_hours, segment="device"),
        AggregateOptions(window_hours, covariate="spend_30d", segment="device"),
        AggregateOptions(window_hours, segment="device", learning_only=True),
    ]


def assert_same_totals(rolled: dict, raw: dict) -> None:
    assert rolled.keys() == raw.keys()
    for key, totals in raw.items():
        expected = dataclasses.asdict(totals)
        assert dataclasses.asdict(rolled[key]) == pytest.approx(expected, rel=1e-9, abs=1e-9), key


def assert_rollups_match_events(sessions, experiments) -> int:  # type: ignore[no-untyped-def]
    """Compare every grouping and option set; returns the number of comparisons made."""
    from offerlab.storage.aggregates import grouped_totals_from_events, grouped_totals_from_rollups
    from offerlab.storage.db import session_scope

    compared = 0
    with session_scope(sessions) as session:
        for key, experiment_id in experiments.items():
            for options in all_options(WINDOWS[key]):
                for group in GROUPS:
                    rolled = grouped_totals_from_rollups(
                        session, experiment_id, options, group=group
                    )
                    raw = grouped_totals_from_events(session, experiment_id, options, group=group)
                    assert_same_totals(rolled, raw)
                    compared += 1
    return compared


def rollup_and_exposure_counts(sessions) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    from offerlab.storage.db import session_scope

    with session_scope(sessions) as session:
        rollups = session.scalar(text("SELECT COUNT(*) FROM unit_rollups"))
        exposures = session.scalar(text("SELECT COUNT(*) FROM exposures"))
    return int(rollups), int(exposures)


@pytest.mark.parametrize("seed", [1, 2])
def test_incremental_rollups_match_the_raw_events_after_every_batch(sessions, experiments, seed):  # type: ignore[no-untyped-def]
    batches = Traffic(seed).batches(visitors=70, count=4)
    for batch in batches:
        ingest(sessions, batch)
        assert assert_rollups_match_events(sessions, experiments) == 2 * 3 * len(GROUPS)
    rollups, exposures = rollup_and_exposure_counts(sessions)
    assert rollups == exposures > 50


def test_a_late_earlier_impression_moves_the_attribution_window(sessions, experiments):  # type: ignore[no-untyped-def]
    from offerlab.storage.aggregates import AggregateOptions, grouped_totals
    from offerlab.storage.db import session_scope

    traffic = Traffic(3)
    visitor = "late-shopper"
    first = traffic.impression("gift-wrap", visitor, START + timedelta(days=3))
    order = traffic.event("order", visitor, START + timedelta(days=2), order_id="x1", value=80.0)
    ingest(sessions, [first, order])
    options = AggregateOptions(WINDOWS["gift-wrap"])
    with session_scope(sessions) as session:
        before = grouped_totals(session, experiments["gift-wrap"], options, group=None)
    assert sum(t.orders for t in before.values()) == 0
    earlier = traffic.impression("gift-wrap", visitor, START + timedelta(days=1))
    ingest(sessions, [earlier])
    with session_scope(sessions) as session:
        after = grouped_totals(session, experiments["gift-wrap"], options, group=None)
    [totals] = [t for t in after.values() if t.units]
    assert (totals.units, totals.impressions, totals.orders, totals.order_value_sum) == (
        1,
        2,
        1,
        80.0,
    )
    assert totals.variant == earlier["variant"]
    assert assert_rollups_match_events(sessions, experiments) > 0


def test_ordering_units_agree_with_the_raw_events(sessions, experiments, monkeypatch):  # type: ignore[no-untyped-def]
    from offerlab.storage import aggregates
    from offerlab.storage.db import session_scope

    for batch in Traffic(4).batches(visitors=60, count=2):
        ingest(sessions, batch)

    def counts(learning_only: bool) -> dict[str, dict[str, int]]:
        with session_scope(sessions) as session:
            return {
                key: aggregates.ordering_units(
                    session,
                    experiment_id,
                    attribution_window_hours=WINDOWS[key],
                    learning_only=learning_only,
                )
                for key, experiment_id in experiments.items()
            }

    rolled = {flag: counts(flag) for flag in (False, True)}
    monkeypatch.setattr(aggregates, "rollup_ready", lambda *_args: False)
    raw = {flag: counts(flag) for flag in (False, True)}
    assert rolled == raw
    assert sum(rolled[False]["warranty"].values()) > 0


def test_capped_options_and_other_windows_read_the_raw_events(sessions, experiments):  # type: ignore[no-untyped-def]
    from offerlab.storage.aggregates import (
        AggregateOptions,
        grouped_totals,
        grouped_totals_from_events,
        grouped_totals_from_rollups,
    )
    from offerlab.storage.db import session_scope

    for batch in Traffic(5).batches(visitors=40, count=1):
        ingest(sessions, batch)
    experiment_id = experiments["warranty"]
    capped = AggregateOptions(168, order_value_cap=40.0)
    other_window = AggregateOptions(24)
    with session_scope(sessions) as session:
        for options in (capped, other_window):
            served = grouped_totals(session, experiment_id, options, group=None)
            raw = grouped_totals_from_events(session, experiment_id, options, group=None)
            assert_same_totals(served, raw)
            with pytest.raises(ValueError):
                grouped_totals_from_rollups(session, experiment_id, options, group=None)
        assert sum(t.orders_capped for t in served.values()) == 0
        capped_raw = grouped_totals_from_events(session, experiment_id, capped, group=None)
    assert sum(t.orders_capped for t in capped_raw.values()) > 0


def test_rollups_are_rebuilt_for_old_data_and_a_changed_window(sessions, experiments):  # type: ignore[no-untyped-def]
    from offerlab.storage.db import session_scope

    for batch in Traffic(6).batches(visitors=50, count=1):
        ingest(sessions, batch)
    with session_scope(sessions) as session:
        # As after migration 0005 over existing events: nothing rolled up, nothing marked.
        for table in ("unit_rollups", "rollup_state", "rollup_marks"):
            session.execute(text(f"DELETE FROM {table}"))
    assert rollup_and_exposure_counts(sessions)[0] == 0
    assert assert_rollups_match_events(sessions, experiments) > 0
    assert rollup_and_exposure_counts(sessions)[0] == rollup_and_exposure_counts(sessions)[1]
    WINDOWS["warranty"] = 24
    try:
        with session_scope(sessions) as session:
            session.execute(
                text("UPDATE experiments SET attribution_window_hours = 24 WHERE id = :id"),
                {"id": experiments["warranty"]},
            )
        assert assert_rollups_match_events(sessions, experiments) > 0
    finally:
        WINDOWS["warranty"] = 168


def test_a_session_that_already_wrote_sees_its_own_events_on_sqlite(
    sessions, experiments, database_url
):  # type: ignore[no-untyped-def]
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL refreshes in its own transaction (committed events only)")
    from offerlab.services.ingest import ingest_batch
    from offerlab.storage.aggregates import (
        AggregateOptions,
        grouped_totals_from_events,
        grouped_totals_from_rollups,
    )
    from offerlab.storage.db import session_scope

    [batch] = Traffic(7).batches(visitors=20, count=1)
    options = AggregateOptions(168)
    with session_scope(sessions) as session:
        ingest_batch(session, batch, now=NOW, key_id=1)
        rolled = grouped_totals_from_rollups(session, experiments["warranty"], options, group=None)
        raw = grouped_totals_from_events(session, experiments["warranty"], options, group=None)
    assert_same_totals(rolled, raw)
    assert sum(t.units for t in raw.values()) > 0


@pytest.mark.parametrize("order_commits_first", [True, False])
def test_ingest_transactions_committing_around_a_refresh_stay_exact(
    sessions, experiments, database_url, order_commits_first
):  # type: ignore[no-untyped-def]
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer: an open ingest transaction blocks the refresh")
    from offerlab.services.ingest import ingest_batch
    from offerlab.storage.aggregates import AggregateOptions, grouped_totals

    traffic = Traffic(8)
    visitor = "concurrent-shopper"
    impression = traffic.impression("warranty", visitor, START + timedelta(days=1))
    order = traffic.event("order", visitor, START + timedelta(days=2), order_id="c1", value=50.0)
    first, second = (order, impression) if order_commits_first else (impression, order)
    options = AggregateOptions(WINDOWS["warranty"])

    def units_and_revenue() -> tuple[int, float]:
        with sessions() as session:
            totals = grouped_totals(session, experiments["warranty"], options, group=None)
        return sum(t.units for t in totals.values()), sum(
            t.order_value_sum for t in totals.values()
        )

    late = sessions()
    late.begin()
    ingest_batch(late, [second], now=NOW, key_id=1)
    ingest(sessions, [first])
    # The refresh runs while `late` is open and must not consume what it cannot see.
    assert units_and_revenue() == ((1, 0.0) if not order_commits_first else (0, 0.0))
    late.commit()
    late.close()
    assert units_and_revenue() == (1, 50.0)
    assert assert_rollups_match_events(sessions, experiments) > 0


SEGMENT_VALUES: list[Any] = [
    "gold",
    "",
    3,
    -7,
    0,
    True,
    False,
    2.0,
    0.30000000000000004,
    1e20,
    None,
]


def segment_counts(sessions, experiment_id: int, *, learning_only: bool) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    """Units per segment text, read from the rollups and from the raw events."""
    from offerlab.storage.aggregates import (
        AggregateOptions,
        grouped_totals_from_events,
        grouped_totals_from_rollups,
    )
    from offerlab.storage.db import session_scope

    options = AggregateOptions(168, segment="tier", learning_only=learning_only)
    counts = {}
    with session_scope(sessions) as session:
        for source, read in (
            ("rollups", grouped_totals_from_rollups),
            ("events", grouped_totals_from_events),
        ):
            grouped = read(session, experiment_id, options, group="segment")
            by_segment: dict[Any, int] = {}
            for (_variant, segment), totals in grouped.items():
                by_segment[segment] = by_segment.get(segment, 0) + totals.units
            counts[source] = by_segment
    return counts


def test_segment_values_read_as_the_sdk_serves_them(sessions, experiments):  # type: ignore[no-untyped-def]
    from offerlab_sdk.context import segment_value

    traffic = Traffic(9)
    batch = []
    for index, value in enumerate([*SEGMENT_VALUES, "absent"]):
        event = traffic.impression("warranty", f"tier-shopper-{index}", START + timedelta(days=1))
        event["measurement"] = False
        event["attributes"] = {} if value == "absent" else {"tier": value}
        batch.append(event)
    ingest(sessions, batch)

    served = segment_counts(sessions, experiments["warranty"], learning_only=True)
    expected_served: dict[Any, int] = {}
    for value in [*SEGMENT_VALUES, None]:
        key = segment_value(value)
        expected_served[key] = expected_served.get(key, 0) + 1
    assert served["rollups"] == served["events"] == expected_served
    assert {"true", "false", "3", "-7", "0", "gold", ""} <= set(expected_served)

    analysed = segment_counts(sessions, experiments["warranty"], learning_only=False)
    # Analysis keeps floats visible, as the JSON text they were stored with.
    floats = {"2.0": 1, "0.30000000000000004": 1, "1e+20": 1}
    expected_analysis = dict(expected_served, **floats)
    expected_analysis[None] -= len(floats)
    assert analysed["rollups"] == analysed["events"] == expected_analysis


def test_the_background_thread_refreshes_the_rollups(sessions, experiments, monkeypatch):  # type: ignore[no-untyped-def]
    from types import SimpleNamespace

    from offerlab.api import app as app_module
    from offerlab.settings import Settings

    class StopLoop(Exception):
        pass

    def stop_after_one_round(_seconds: float) -> None:
        raise StopLoop

    def pending_marks() -> int:
        with sessions() as session:
            return int(session.scalar(text("SELECT COUNT(*) FROM rollup_marks")))

    [batch] = Traffic(10).batches(visitors=30, count=1)
    ingest(sessions, batch)
    assert pending_marks() > 0
    settings = Settings(rollup_refresh_seconds=0, bandit_update_check_seconds=5)
    ctx = SimpleNamespace(settings=settings, sessions=sessions, clock=lambda: NOW, snapshots=None)
    monkeypatch.setattr(app_module.time, "sleep", stop_after_one_round)
    with pytest.raises(StopLoop):
        app_module.BanditUpdater(ctx).run()  # type: ignore[arg-type]
    assert pending_marks() > 0, "0 leaves the refresh to the results requests"

    ctx.settings = Settings(rollup_refresh_seconds=30, bandit_update_check_seconds=5)
    with pytest.raises(StopLoop):
        app_module.BanditUpdater(ctx).run()  # type: ignore[arg-type]
    assert pending_marks() == 0
    rollups, exposures = rollup_and_exposure_counts(sessions)
    assert rollups == exposures > 10
    assert assert_rollups_match_events(sessions, experiments) > 0
