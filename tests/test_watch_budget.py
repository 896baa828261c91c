"""The engine spends a provider's poll budget and no more, most urgent watches first.

Real nats-server, the in-test toy provider (tests/test_watch_engine.py) given the two optional
members the policy reads: `poll_capacity` (a fixed rate) and `poll_class`. Assertions are on
read counts against the budget earned over the elapsed time, never on how fast anything is.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from types import SimpleNamespace

import pytest
from nats.js.client import JetStreamContext
from nats.js.kv import KeyValue

from bridge.http.ratelimit import RateBudget
from bridge.providers.story.watch.discovery import DiscoveryPace
from bridge.providers.story.watch.provider import StoryProvider
from bridge.watch import WatchEngine, WatchSpec
from bridge.watch.policy import COLD, HOT
from tests.fixtures.waiting import until
from tests.test_watch_engine import SUBJECTS, ToyProvider, settings

RATE = 0.2  # calls per (unscaled) second; x100 with interval_scale 0.01: 20 reads a second


class BudgetToy(ToyProvider):
    def __init__(self) -> None:
        super().__init__()
        self.shares: list[float] = []

    def poll_capacity(self, share: float) -> float:
        self.shares.append(share)
        return RATE

    def poll_class(self, spec: WatchSpec, statuses: Mapping[str, str]) -> int:
        return HOT if spec.id.startswith("hot") else COLD

    def interval_bounds(self, resource: str) -> tuple[float, float]:
        return (1.0, 1.0)  # one floor for both classes: only the weights tell them apart


@pytest.fixture
async def budget_engine(
    js: JetStreamContext, kv: KeyValue
) -> AsyncIterator[tuple[WatchEngine, BudgetToy]]:
    toy = BudgetToy()
    engine = WatchEngine(js, kv, {"toy": toy}, SUBJECTS, settings(poll_budget_share=0.7))
    await engine.start()
    yield engine, toy
    await engine.stop()


async def test_reads_never_exceed_the_poll_budget_and_running_work_goes_first(
    budget_engine: tuple[WatchEngine, BudgetToy],
) -> None:
    """40 watches whose floors alone would allow 4,000 reads a second: the engine reads at most
    what the budget earned (20 a second, plus one second banked), asks with the configured
    share, and reads the HOT half several times as often as the COLD half."""
    engine, toy = budget_engine
    for n in range(20):
        for kind in ("hot", "cold"):
            toy.status[f"{kind}{n}"] = "pending"
            await engine.add(WatchSpec(provider="toy", resource="thing", id=f"{kind}{n}"))
    started, first = time.monotonic(), toy.reads
    await until(lambda: toy.reads >= first + 60, limit=60)
    reads, elapsed = toy.reads - first, time.monotonic() - started
    assert reads <= RATE / 0.01 * (elapsed + 1.0) + 1
    assert toy.shares and set(toy.shares) == {0.7}
    per_id = Counter(i for batch in toy.batches[-50:] for i in batch)
    hot = sum(v for k, v in per_id.items() if k.startswith("hot"))
    cold = sum(v for k, v in per_id.items() if k.startswith("cold"))
    assert hot >= 2 * cold


async def test_discovery_calls_come_out_of_the_poll_share_not_on_top() -> None:
    """The idle-while-due cause found for issue 23: polls planned at the whole poll share with
    discovery's list calls on top overfill the key's rolling window, and a full window holds
    every poll until its oldest call is a minute old (15-30 s without a request while changes
    pile up). The poller now leaves discovery what discovery used over the last minute."""
    now = [1000.0]
    budget = RateBudget(120, clock=lambda: now[0])
    provider = StoryProvider(SimpleNamespace(budget=budget), base_url="http://api.test")
    provider.discovery_pace = DiscoveryPace(120 / 60 * 0.8 * 0.2, clock=lambda: now[0])
    whole = budget.poll_capacity(0.8)
    assert provider.poll_capacity(0.8) == whole
    for _ in range(19):  # a sweep of 19 list calls, paced
        now[0] += 1 / provider.discovery_pace.per_second
        await provider.discovery_pace()
    left = provider.poll_capacity(0.8)
    assert left is not None
    assert left == pytest.approx(whole - 19 / 60)
    assert left + provider.discovery_pace.recent_per_second() <= whole + 1e-9
    now[0] += 61
    assert provider.poll_capacity(0.8) == whole  # a minute later discovery's share is free again
