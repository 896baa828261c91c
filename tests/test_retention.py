"""Ledger retention covers dead-letter retention plus the deadline (issue 22, point 4): a command
redriven on the last day its dead letter is kept still finds its ledger entry, so a Syllaby
command is not sent twice. Real nats-server."""

from __future__ import annotations

from nats.js.api import KeyValueConfig, StorageType
from nats.js.client import JetStreamContext

from bridge.names import LEDGER_BUCKET
from bridge.nats.streams import DEAD_LETTERS_MAX_AGE_SECONDS, ledger_bucket, ledger_ttl_seconds

DAY = 24 * 3600.0


def test_a_ledger_entry_outlives_every_redrive_of_its_command() -> None:
    """Worst case: the entry's last write at the command's arrival, the burial at its deadline,
    the redrive on the dead letter's last day."""
    for deadline in (60.0, DAY, 7 * DAY):
        last_write, buried = 0.0, deadline
        last_redrive = buried + DEAD_LETTERS_MAX_AGE_SECONDS
        assert last_write + ledger_ttl_seconds(deadline) > last_redrive


async def test_the_ledger_bucket_follows_the_deadline_even_when_it_exists(
    js: JetStreamContext,
) -> None:
    """A bucket declared by an older version (30 days, as long as dead letters only) is raised in
    place; a longer deadline raises it further."""
    await js.create_key_value(
        KeyValueConfig(bucket=LEDGER_BUCKET, history=1, ttl=30 * DAY, storage=StorageType.FILE)
    )
    await ledger_bucket(js)
    info = await js.stream_info(f"KV_{LEDGER_BUCKET}")
    assert info.config.max_age == ledger_ttl_seconds(DAY)
    assert info.config.max_age > DEAD_LETTERS_MAX_AGE_SECONDS + DAY
    await ledger_bucket(js, deadline=7 * DAY)
    info = await js.stream_info(f"KV_{LEDGER_BUCKET}")
    assert info.config.max_age == ledger_ttl_seconds(7 * DAY)
