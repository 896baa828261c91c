"""Per-route gates (bridge/nats/gates.py): a failing route is probed by one command at a time on a
doubling, capped backoff; a healthy route admits up to its in-flight share. A fake clock."""

from __future__ import annotations

from bridge.nats.gates import ROUTE_BUSY, ROUTE_FAILING, RouteGates

ROUTE = "POST /story-projects"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def gates(clock: Clock, *, in_flight: int = 3) -> RouteGates:
    return RouteGates(base_seconds=1.0, probe_max_seconds=4.0, max_in_flight=in_flight, clock=clock)


def test_a_failing_route_holds_everyone_until_one_probe_answers() -> None:
    clock = Clock()
    g = gates(clock)
    assert g.admit(ROUTE) is None
    g.settle(ROUTE, False)
    held = g.admit(ROUTE)
    assert held is not None and held.reason == ROUTE_FAILING and held.seconds == 1.0
    assert g.admit("GET /credits") is None  # other routes are not touched
    g.settle("GET /credits", True)
    clock.now += 1.0
    assert g.admit(ROUTE) is None  # the probe
    probing = g.admit(ROUTE)
    assert probing is not None and probing.reason == ROUTE_FAILING  # one probe at a time
    g.settle(ROUTE, False)
    again = g.admit(ROUTE)
    assert again is not None and again.seconds == 2.0  # doubled
    for _ in range(4):
        clock.now += 10.0
        assert g.admit(ROUTE) is None
        g.settle(ROUTE, False)
    capped = g.admit(ROUTE)
    assert capped is not None and capped.seconds == 4.0
    clock.now += 4.0
    assert g.admit(ROUTE) is None
    g.settle(ROUTE, True)  # the route answers again: everything is released
    assert g.failing(ROUTE) is None
    assert [g.admit(ROUTE) for _ in range(3)] == [None, None, None]


def test_concurrent_failures_of_one_outage_count_once() -> None:
    clock = Clock()
    g = gates(clock, in_flight=8)
    for _ in range(8):
        assert g.admit(ROUTE) is None
    for _ in range(8):
        g.settle(ROUTE, False)
    held = g.admit(ROUTE)
    assert held is not None and held.seconds == 1.0  # not 2**7 capped


def test_a_route_at_its_share_holds_briefly_and_untold_endings_change_nothing() -> None:
    clock = Clock()
    g = gates(clock, in_flight=2)
    assert g.admit(ROUTE) is None and g.admit(ROUTE) is None
    busy = g.admit(ROUTE)
    assert busy is not None and busy.reason == ROUTE_BUSY
    assert g.in_flight() == {ROUTE: 2}
    g.settle(ROUTE, None)  # an open circuit, a 429: says nothing about the route
    assert g.failing(ROUTE) is None
    assert g.admit(ROUTE) is None


def test_one_provider_never_takes_every_slot() -> None:
    clock = Clock()
    g = RouteGates(
        base_seconds=1.0,
        probe_max_seconds=4.0,
        max_in_flight=2,
        provider_max_in_flight=3,
        clock=clock,
    )
    admitted = [g.admit(route, "syllaby") for route in ("PATCH /a", "PATCH /a", "POST /b")]
    assert admitted == [None, None, None]
    busy = g.admit("GET /c", "syllaby")
    assert busy is not None and busy.reason == ROUTE_BUSY
    assert g.admit(ROUTE, "story") is None  # the other provider still has its slots
    g.settle("POST /b", True)
    assert g.admit("GET /c", "syllaby") is None
