"""RateBudget: one shared budget, commands before polls, server hints and 429 blocks."""

from __future__ import annotations

import asyncio
import time

import pytest
import structlog.testing

from bridge.http.errors import MAX_RATE_WAIT_SECONDS, parse_retry_after
from bridge.http.ratelimit import Priority, RateBudget


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TestLocalWindow:
    def test_grants_at_most_per_minute_in_a_window(self) -> None:
        """After per_minute grants, the next command must wait for the window to roll."""
        clock = FakeClock()
        budget = RateBudget(per_minute=3, reserve=1, clock=clock)
        for _ in range(3):
            assert budget.delay_for(Priority.COMMAND) == 0
            budget._grant()
        assert budget.delay_for(Priority.COMMAND) == pytest.approx(60.0)
        clock.now += 60.0
        assert budget.delay_for(Priority.COMMAND) == 0

    def test_polls_cannot_use_the_reserve(self) -> None:
        """The last `reserve` slots of the window are for commands only."""
        budget = RateBudget(per_minute=3, reserve=1, clock=FakeClock())
        budget._grant()
        budget._grant()
        assert budget.delay_for(Priority.POLL) > 0
        assert budget.delay_for(Priority.COMMAND) == 0

    def test_reserve_must_leave_room_for_polls(self) -> None:
        """A reserve as large as the budget would starve polls forever: refuse it."""
        with pytest.raises(ValueError, match="reserve"):
            RateBudget(per_minute=2, reserve=2)


class TestServerHints:
    def test_nothing_remaining_blocks_everyone_until_reset(self) -> None:
        """RateLimit-Remaining: 0 makes commands and polls wait RateLimit-Reset seconds."""
        clock = FakeClock()
        budget = RateBudget(per_minute=100, reserve=5, clock=clock)
        budget.observe({"RateLimit-Remaining": "0", "RateLimit-Reset": "12"})
        assert budget.delay_for(Priority.COMMAND) == pytest.approx(12)
        assert budget.delay_for(Priority.POLL) == pytest.approx(12)
        clock.now += 12
        assert budget.delay_for(Priority.COMMAND) == 0

    def test_low_remaining_holds_polls_but_not_commands(self) -> None:
        """Within the reserve, only commands proceed."""
        budget = RateBudget(per_minute=100, reserve=5, clock=FakeClock())
        budget.observe({"ratelimit-remaining": "3", "ratelimit-reset": "7"})
        assert budget.delay_for(Priority.POLL) == pytest.approx(7)
        assert budget.delay_for(Priority.COMMAND) == 0

    def test_local_grants_count_down_the_server_remaining(self) -> None:
        """Grants made after an observation use up what the server said remains."""
        budget = RateBudget(per_minute=100, reserve=1, clock=FakeClock())
        budget.observe({"RateLimit-Remaining": "1", "RateLimit-Reset": "5"})
        assert budget.delay_for(Priority.COMMAND) == 0
        budget._grant()
        assert budget.delay_for(Priority.COMMAND) == pytest.approx(5)

    def test_ignores_headers_it_cannot_read(self) -> None:
        """Garbage headers change nothing."""
        budget = RateBudget(per_minute=10, clock=FakeClock())
        budget.observe({"RateLimit-Remaining": "soon", "RateLimit-Reset": "x"})
        assert budget.delay_for(Priority.POLL) == 0

    def test_warns_about_an_unreadable_header_not_about_a_missing_one(self) -> None:
        """Syllaby's successes carry a remaining count and no reset: normal, so not a warning
        (it was one per reply); a count that is not a number still is."""
        syllaby = RateBudget(
            per_minute=30,
            clock=FakeClock(),
            remaining_header="X-RateLimit-Remaining",
            reset_header="X-RateLimit-Reset",
        )
        budget = RateBudget(per_minute=10, clock=FakeClock())
        with structlog.testing.capture_logs() as logs:
            syllaby.observe({"X-RateLimit-Limit": "30", "X-RateLimit-Remaining": "29"})
            budget.observe({"RateLimit-Remaining": "29"})
        assert [e for e in logs if e["log_level"] == "warning"] == []
        with structlog.testing.capture_logs() as logs:
            budget.observe({"RateLimit-Remaining": "nan"})
            budget.observe({"RateLimit-Remaining": "3", "RateLimit-Reset": "soon"})
        assert [e["event"] for e in logs] == ["rate limit headers ignored: not finite numbers"] * 2
        assert budget.delay_for(Priority.POLL) == 0


class TestBlock:
    def test_block_for_holds_every_priority_exactly_that_long(self) -> None:
        """After a 429 nobody is granted anything until Retry-After elapsed."""
        clock = FakeClock()
        budget = RateBudget(per_minute=100, clock=clock)
        budget.block_for(3)
        assert budget.delay_for(Priority.COMMAND) == pytest.approx(3)
        assert budget.delay_for(Priority.POLL) == pytest.approx(3)
        clock.now += 3
        assert budget.delay_for(Priority.COMMAND) == 0

    async def test_acquire_waits_out_the_block_and_counts_it(self) -> None:
        """A waiter blocked by a 429 waits at least the block and the wait is recorded."""
        seen: list[tuple[Priority, float]] = []
        budget = RateBudget(per_minute=100, on_wait=lambda p, s: seen.append((p, s)))
        budget.block_for(0.05)
        waited = await budget.acquire(Priority.POLL)
        assert waited >= 0.05
        assert budget.wait_seconds[Priority.POLL] == waited
        assert seen == [(Priority.POLL, waited)]


class TestOrdering:
    async def test_waiting_commands_are_served_before_waiting_polls(self) -> None:
        """Polls that queued first still go after commands that queued later."""
        budget = RateBudget(per_minute=100)
        budget.block_for(0.05)
        order: list[str] = []

        async def take(name: str, priority: Priority) -> None:
            async with budget.slot(priority):
                order.append(name)

        tasks = []
        for name, prio in [
            ("poll-1", Priority.POLL),
            ("poll-2", Priority.POLL),
            ("cmd-1", Priority.COMMAND),
            ("cmd-2", Priority.COMMAND),
        ]:
            tasks.append(asyncio.create_task(take(name, prio)))
            await asyncio.sleep(0)
        assert budget.waiting == {Priority.COMMAND: 2, Priority.POLL: 2}
        await asyncio.gather(*tasks)
        assert order == ["cmd-1", "cmd-2", "poll-1", "poll-2"]

    async def test_a_cancelled_waiter_leaves_the_queue(self) -> None:
        """Cancelling a waiting request does not stall the ones behind it."""
        budget = RateBudget(per_minute=100)
        budget.block_for(0.05)
        first = asyncio.create_task(budget.acquire(Priority.COMMAND))
        await asyncio.sleep(0)
        second = asyncio.create_task(budget.acquire(Priority.COMMAND))
        await asyncio.sleep(0)
        first.cancel()
        await asyncio.sleep(0)
        assert await second >= 0.0
        assert budget.waiting == {Priority.COMMAND: 0, Priority.POLL: 0}


class TestBrokenHeaders:
    """A header that would block every request forever is a broken header, not an instruction."""

    @pytest.mark.parametrize("value", ["inf", "1e308", "86400", "Fri, 31 Dec 9999 23:59:59 GMT"])
    def test_retry_after_is_clamped_to_ten_minutes(self, value: str) -> None:
        assert parse_retry_after(value) == MAX_RATE_WAIT_SECONDS

    def test_a_sane_retry_after_is_kept_exactly(self) -> None:
        assert parse_retry_after("7") == 7.0
        assert parse_retry_after("nan") == 0.0

    def test_a_429_block_of_infinity_lasts_ten_minutes(self) -> None:
        clock = FakeClock()
        budget = RateBudget(per_minute=10, clock=clock)
        budget.block_for(float("inf"))
        assert budget.delay_for(Priority.COMMAND) == pytest.approx(MAX_RATE_WAIT_SECONDS)

    def test_an_epoch_valued_ratelimit_reset_is_read_as_a_timestamp(self) -> None:
        """`RateLimit-Reset: <unix time>` (seconds are documented) waits until then, bounded."""
        clock = FakeClock()
        budget = RateBudget(per_minute=10, clock=clock)
        budget.observe({"RateLimit-Remaining": "0", "RateLimit-Reset": str(int(time.time()) + 30)})
        assert 28 <= budget.delay_for(Priority.COMMAND) <= 31
        budget.observe({"RateLimit-Remaining": "0", "RateLimit-Reset": "4102444800"})  # year 2100
        assert budget.delay_for(Priority.COMMAND) == pytest.approx(MAX_RATE_WAIT_SECONDS)


class TestPollCapacity:
    def test_polls_get_their_share_while_no_command_runs(self) -> None:
        """With no command in the window, polls may spend `share` of the budget per second."""
        budget = RateBudget(per_minute=120, clock=FakeClock())
        assert budget.poll_capacity(0.8) == pytest.approx(96 / 60)

    def test_commands_beyond_the_rest_are_taken_from_the_polls(self) -> None:
        """Commands using more than the share leaves (less the reserve) shrink the polls' rate
        one for one, so commands plus polls never fill the polls' part of the window; they
        count for one window only."""
        clock = FakeClock()
        budget = RateBudget(per_minute=120, reserve=12, clock=clock)
        for _ in range(10):
            budget._grant(Priority.COMMAND)
        assert budget.poll_capacity(0.8) == pytest.approx(96 / 60)  # 120 - 12 - 10 - 1 > 96
        for _ in range(20):
            budget._grant(Priority.COMMAND)
        assert budget.poll_capacity(0.8) == pytest.approx((120 - 12 - 30 - 1) / 60)
        for _ in range(50):
            budget._grant(Priority.POLL)  # polls' own grants do not shrink their rate
        assert budget.poll_capacity(0.8) == pytest.approx((120 - 12 - 30 - 1) / 60)
        clock.now += 60.0
        assert budget.poll_capacity(0.8) == pytest.approx(96 / 60)

    def test_nothing_for_polls_while_a_429_blocks(self) -> None:
        """During a Retry-After block the polls' rate is zero."""
        clock = FakeClock()
        budget = RateBudget(per_minute=120, clock=clock)
        budget.block_for(5)
        assert budget.poll_capacity(0.8) == 0.0
        clock.now += 5.0
        assert budget.poll_capacity(0.8) > 0


async def test_command_grants_do_not_pile_up_without_polls() -> None:
    """A replica that only runs commands keeps one window of grants, not every grant since start."""
    now = [0.0]
    budget = RateBudget(120, clock=lambda: now[0])
    for _ in range(1000):
        await budget.acquire()
        now[0] += 1.0
    assert len(budget._command_grants) <= 61
