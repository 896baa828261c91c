"""The command ledger over a real JetStream KV bucket: claim, replay, refuse, wait, take over."""

from __future__ import annotations

import asyncio

import pytest
from nats.js.client import JetStreamContext
from nats.js.kv import KeyValue

from bridge.ledger import CommandLedger, LedgerUnavailable, fingerprint, ledger_key
from bridge.names import LEDGER_BUCKET
from bridge.nats.streams import LEDGER_TTL_SECONDS, ledger_bucket

OK = {"commandId": "c", "command": "syllaby.storyboard.render", "ok": True, "status": 202}


@pytest.fixture
async def bucket(js: JetStreamContext) -> KeyValue:
    return await ledger_bucket(js)


async def test_the_bucket_keeps_entries_as_long_as_dead_letters(
    js: JetStreamContext, bucket
) -> None:
    status = await bucket.status()
    assert status.bucket == LEDGER_BUCKET
    info = await js.stream_info(f"KV_{LEDGER_BUCKET}")
    assert info.config.max_age == LEDGER_TTL_SECONDS


async def test_a_finished_command_is_answered_from_the_ledger(bucket: KeyValue) -> None:
    ledger = CommandLedger(bucket)
    claim = await ledger.begin("syllaby", "syllaby.storyboard.render", "c", "fp", target={"x": 1})
    assert claim.kind == "fresh"
    await ledger.finish(claim, OK, [{"resource": "storyboard", "id": "1"}])
    again = await CommandLedger(bucket).begin("syllaby", "syllaby.storyboard.render", "c", "fp")
    assert again.kind == "done"
    assert again.entry.outcome == OK and again.entry.watches == [
        {"resource": "storyboard", "id": "1"}
    ]


async def test_another_request_under_the_same_command_id_is_a_mismatch(bucket: KeyValue) -> None:
    ledger = CommandLedger(bucket)
    await ledger.finish(await ledger.begin("syllaby", "cmd", "c", "fp-1"), OK)
    assert (await ledger.begin("syllaby", "cmd", "c", "fp-2")).kind == "mismatch"
    # The same commandId under another command is another operation.
    assert (await ledger.begin("syllaby", "other", "c", "fp-2")).kind == "fresh"


async def test_a_duplicate_waits_while_the_first_attempt_renews_its_lease(bucket: KeyValue) -> None:
    first = CommandLedger(bucket, lease_seconds=0.6)
    claim = await first.begin("syllaby", "cmd", "c", "fp")

    async def slow_call() -> None:
        async with first.keepalive(claim):
            await asyncio.sleep(1.5)  # longer than the lease: the renewals keep it claimed
        await first.finish(claim, OK)

    running = asyncio.create_task(slow_call())
    duplicate = await CommandLedger(bucket, lease_seconds=0.6).begin("syllaby", "cmd", "c", "fp")
    await running
    assert duplicate.kind == "done"


async def test_a_crashed_attempt_is_taken_over_for_reconciliation(bucket: KeyValue) -> None:
    """No renewals (the owner died after its request left): once the lease is over the entry is
    the next attempt's to reconcile, with the original send time and the read before it kept."""
    dead = CommandLedger(bucket, lease_seconds=0.3)
    claim = await dead.begin("syllaby", "cmd", "c", "fp")
    await dead.mark_sent(claim, {"before": {"status": "ready"}})
    taken = await CommandLedger(bucket, lease_seconds=0.3).begin("syllaby", "cmd", "c", "fp")
    assert taken.kind == "reconcile"
    assert taken.entry.attempts == 2
    assert taken.entry.startedAt == claim.entry.startedAt
    assert taken.entry.target == {"before": {"status": "ready"}}


async def test_an_attempt_that_stopped_before_sending_is_sent_again(bucket: KeyValue) -> None:
    """The owner died while its claim was only `claimed` (waiting in a rate budget, say):
    nothing can have reached the API, so the next attempt sends it, never `outcome_unknown`."""
    dead = CommandLedger(bucket, lease_seconds=0.3)
    await dead.begin("syllaby", "cmd", "c", "fp")
    taken = await CommandLedger(bucket, lease_seconds=0.3).begin("syllaby", "cmd", "c", "fp")
    assert taken.kind == "fresh"
    assert taken.entry.state == "claimed" and taken.entry.attempts == 2
    assert not taken.sent


class _CreateLandsThenTimesOut:
    """The bucket, except that `create` stores the entry and then reports a timeout, as a
    JetStream publish does when its ack is lost."""

    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv

    async def create(self, key: str, value: bytes) -> int:
        await self.kv.create(key, value)
        raise TimeoutError

    def __getattr__(self, name: str) -> object:
        return getattr(self.kv, name)


async def test_a_claim_whose_create_timed_out_is_read_back_as_ours(bucket: KeyValue) -> None:
    """The create landed but its ack did not: the entry read back is recognised as this very
    claim, not mistaken for another attempt to wait for or reconcile."""
    ledger = CommandLedger(_CreateLandsThenTimesOut(bucket), lease_seconds=30)  # type: ignore[arg-type]
    claim = await ledger.begin("syllaby", "cmd", "t", "fp")
    assert claim.kind == "fresh" and claim.entry.state == "claimed"
    await ledger.mark_sent(claim, {})
    await ledger.finish(claim, OK)
    assert (await CommandLedger(bucket).begin("syllaby", "cmd", "t", "fp")).kind == "done"


async def test_remembered_fingerprints_tell_the_same_body_from_another(bucket: KeyValue) -> None:
    ledger = CommandLedger(bucket)
    assert await ledger.remember("story", "job.cancel", "r", "fp-1") == "new"
    assert await ledger.remember("story", "job.cancel", "r", "fp-1") == "same"
    assert await ledger.remember("story", "job.cancel", "r", "fp-2") == "mismatch"
    assert await ledger.remember("story", "job.get", "r", "fp-2") == "new"


async def test_an_ambiguous_end_is_reconciled_at_once_and_a_release_sends_again(
    bucket: KeyValue,
) -> None:
    ledger = CommandLedger(bucket, lease_seconds=60)
    claim = await ledger.begin("syllaby", "cmd", "a", "fp")
    await ledger.mark_ambiguous(claim)
    assert (await ledger.begin("syllaby", "cmd", "a", "fp")).kind == "reconcile"
    released = await ledger.begin("syllaby", "cmd", "b", "fp")
    await ledger.release(released)
    assert (await ledger.begin("syllaby", "cmd", "b", "fp")).kind == "fresh"


def test_keys_and_fingerprints_are_stable_and_kv_safe() -> None:
    key = ledger_key("syllaby", "syllaby.scene.create", "id:with.all-the_chars" * 5)
    assert key.startswith("syllaby.") and len(key) == len("syllaby.") + 40
    assert fingerprint({"b": 1, "a": [1, 2]}) == fingerprint({"a": [1, 2], "b": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": 2})


class _CreateNeverLands:
    """The bucket, except that every `create` fails without storing anything (a full bucket)."""

    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv
        self.creates = 0

    async def create(self, key: str, value: bytes) -> int:
        self.creates += 1
        raise TimeoutError

    def __getattr__(self, name: str) -> object:
        return getattr(self.kv, name)


async def test_a_claim_that_never_lands_is_unavailable_not_a_busy_loop(bucket: KeyValue) -> None:
    failing = _CreateNeverLands(bucket)
    ledger = CommandLedger(failing, lease_seconds=30)  # type: ignore[arg-type]
    with pytest.raises(LedgerUnavailable):
        await ledger.begin("syllaby", "cmd", "never", "fp")
    assert failing.creates == 3


async def test_an_attempt_with_no_effect_is_unsent_again(bucket: KeyValue) -> None:
    """Marked sent, then answered 429: `mark_unsent` makes it `claimed`, so a stop now leaves a
    claim the next attempt sends instead of reconciling."""
    dead = CommandLedger(bucket, lease_seconds=0.3)
    claim = await dead.begin("syllaby", "cmd", "u", "fp")
    await dead.mark_sent(claim, {})
    await dead.mark_unsent(claim)
    assert not claim.sent
    taken = await CommandLedger(bucket, lease_seconds=0.3).begin("syllaby", "cmd", "u", "fp")
    assert taken.kind == "fresh"
