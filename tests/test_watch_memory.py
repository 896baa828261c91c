"""The engine's in-memory indexes shrink with the records they index (issue 23, long life).

Driven directly, without a server: records are fed to `_on_change` as the mirror would, and the
one KV call a retirement makes goes to a fake bucket. Every assertion is on sizes and deadlines
computed from the records' own timestamps, never on wall time.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from bridge.names import Subjects
from bridge.watch import WatchEngine, WatchSettings, WatchSpec
from bridge.watch.model import FacetState, PendingEvent, WatchRecord, shard_of_key
from bridge.watch.outbox import Outbox
from bridge.watch.store import Entry
from tests.test_watch_engine import ToyProvider

DAY = 86400.0


class FakeBucket:
    """The only KV call a retirement makes."""

    def __init__(self) -> None:
        self.deleted: list[str] = []

    async def delete(self, key: str, last: int | None = None) -> None:
        self.deleted.append(key)


def make_engine(monkeypatch: pytest.MonkeyPatch, **kw: Any) -> tuple[WatchEngine, FakeBucket]:
    bucket = FakeBucket()
    settings = WatchSettings(**{"max_age": 3600.0, "retain_done_seconds": DAY, **kw})
    eng = WatchEngine(
        cast(Any, None),
        cast(Any, bucket),
        {"toy": cast(Any, ToyProvider())},
        Subjects("story"),
        settings,
    )
    monkeypatch.setattr(eng.leases, "owns_key", lambda key, margin=0.0: True)
    return eng, bucket


def feed(eng: WatchEngine, record: WatchRecord, revision: int) -> str:
    """Mirror one write of `record` as the store would."""
    key = record.spec.key
    shard = shard_of_key(key)
    assert shard is not None
    eng.store._held.add(shard)
    entry = Entry(key, record.encode(), revision)
    eng.store.entries[key] = entry
    eng._on_change(key, entry)
    return key


async def settle(eng: WatchEngine) -> None:
    """Let the retirements `_retire_due` spawned finish."""
    await asyncio.gather(*eng._work)


def finished(id: str, done_at: float) -> WatchRecord:
    spec = WatchSpec(provider="toy", resource="thing", id=id)
    return WatchRecord(
        spec=spec, armed_at=done_at - 10, done=True, done_reason="terminal", done_at=done_at
    )


def observed(id: str, seen_at: float) -> WatchRecord:
    """A record forwarding created (seen inside another watch's resource), not terminal."""
    spec = WatchSpec(provider="toy", resource="thing", id=id, origin="reference")
    state = FacetState(status="running", token="running", observed_at=seen_at)
    return WatchRecord(spec=spec, polled=False, armed_at=seen_at, states={"thing:x:": state})


def test_a_finished_record_is_scheduled_once_however_often_it_changes_or_reloads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    eng, _ = make_engine(monkeypatch)
    for revision in range(1, 1001):  # writes of the same finished record, then shard reloads
        key = feed(eng, finished("a", 1000.0), revision)
    assert eng._retire == [(1000.0 + DAY, key)]
    assert eng._retire_at == {key: (1000.0 + DAY, True)}


def test_the_retire_heap_shrinks_with_the_records_it_retires(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Finished records deleted or handed over before their deadline: their entries go too."""
    eng, _ = make_engine(monkeypatch)
    keys = [feed(eng, finished(f"r{i}", 1000.0 + i), 1) for i in range(5000)]
    for key in keys:
        del eng.store.entries[key]
        eng._on_change(key, None)
    assert not eng._retire_at
    assert len(eng._retire) <= 1024


async def test_a_record_forwarding_created_that_never_looks_terminal_is_retired(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Nobody polls it, so it can neither finish nor expire: it goes `max_age` (when a watch of
    it would have expired) plus the retention after its last published change."""
    eng, bucket = make_engine(monkeypatch)
    key = feed(eng, observed("o1", 5000.0), 1)
    deadline = 5000.0 + 3600.0 + DAY
    assert eng._retire_at[key] == (deadline, False)
    assert eng.watch_counts() == {}  # not a finished watch
    eng._retire_due(deadline - 1)
    await settle(eng)
    assert bucket.deleted == []
    eng._retire_due(deadline)
    await settle(eng)
    assert bucket.deleted == [key]
    assert key not in eng._retire_at and key not in eng.store.entries


async def test_a_moved_deadline_retires_at_the_new_one_not_the_old(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    eng, bucket = make_engine(monkeypatch)
    key = feed(eng, observed("o2", 5000.0), 1)
    feed(eng, observed("o2", 9000.0), 2)  # seen changing again: retired later
    eng._retire_due(5000.0 + 3600.0 + DAY)
    await settle(eng)
    assert bucket.deleted == []
    eng._retire_due(9000.0 + 3600.0 + DAY)
    await settle(eng)
    assert bucket.deleted == [key]


def test_a_polled_record_is_never_scheduled(monkeypatch: pytest.MonkeyPatch) -> None:
    eng, _ = make_engine(monkeypatch)
    record = observed("o3", 5000.0)
    key = feed(eng, record, 1)
    record.polled = True  # watch.add of the observed resource: a watch, with its own expiry
    record.expires_at = 9000.0
    feed(eng, record, 2)
    assert key not in eng._retire_at


def _pending(id: str) -> PendingEvent:
    return PendingEvent(id=id, subject="story.evt.thing.running", payload={})


def test_retry_state_of_a_record_goes_when_the_record_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A record whose outbox kept failing, then deleted or handed over: its failure count and
    the outbox's lookup positions for its events are dropped."""
    eng, _ = make_engine(monkeypatch)
    record = finished("f1", 1000.0)
    record.outbox = [_pending("e1"), _pending("e2")]
    key = feed(eng, record, 1)
    eng._flush_failures[key] = 4
    eng._unsettled[key] = ("e1", "e2")
    eng.outbox._resume.update({"e1": 10, "e2": 12})
    del eng.store.entries[key]
    eng._on_change(key, None)
    assert eng._flush_failures == {} and eng._unsettled == {} and eng.outbox._resume == {}


def test_a_failed_flush_of_another_replicas_record_keeps_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A forwarded change to a record of a shard held elsewhere: its owner flushes it."""
    eng, _ = make_engine(monkeypatch)
    eng.outbox._resume["e9"] = 7
    eng._retry_flush("w.3.toy.thing.elsewhere", ("e9",))
    assert eng._flush_failures == {} and eng._unsettled == {} and eng.outbox._resume == {}


def test_outbox_forget_drops_only_the_named_events() -> None:
    outbox = Outbox(cast(Any, None))
    outbox._resume.update({"a": 1, "b": 2})
    outbox.forget(["a", "zz"])
    assert outbox._resume == {"b": 2}
