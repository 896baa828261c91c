"""Who owns which shard, as admin.status reads it from the watch bucket's lease and heartbeat keys."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from bridge.nats.fleet import ownership, server_time

NOW = 1_000_000.0


def _beat(renewed_at: float, every: float = 3.0, lease: float = 15.0) -> bytes:
    return json.dumps(
        {"expires_at": renewed_at + lease, "renewed_at": renewed_at, "every": every}
    ).encode()


def _lease(owner: str, expires_at: float) -> bytes:
    return json.dumps({"owner": owner, "expires_at": expires_at}).encode()


def test_a_live_replica_owns_its_leased_shards_and_the_rest_are_unowned() -> None:
    control = {"m.a": _beat(NOW - 1), "l.0": _lease("a", NOW + 10), "l.1": _lease("a", NOW + 10)}
    seen = ownership(control, 4, NOW)
    assert seen.alive(NOW) == ["a"]
    assert seen.held == {"a": [0, 1]}
    assert seen.unowned == [2, 3]  # never leased


def test_shards_of_a_replica_that_stopped_renewing_are_unowned_before_their_leases_expire() -> None:
    """Killed 11 s ago, renewing every 3 s: dead after three missed renewals (+1 s), though its
    heartbeat and leases have not expired yet."""
    control = {
        "m.dead": _beat(NOW - 11),
        "m.live": _beat(NOW - 1),
        "l.0": _lease("dead", NOW + 4),
        "l.1": _lease("live", NOW + 14),
    }
    seen = ownership(control, 2, NOW)
    assert seen.alive(NOW) == ["live"]
    assert seen.unowned == [0]
    assert seen.held["dead"] == [0]  # still leased: shown as held by a dead replica


def test_an_expired_lease_is_unowned_and_old_heartbeats_trust_their_expiry() -> None:
    control = {
        "m.old": json.dumps({"expires_at": NOW + 5}).encode(),  # written before renewed_at
        "l.0": _lease("old", NOW - 1),
        "l.1": _lease("old", NOW + 5),
        "l.x": b"not json",
    }
    seen = ownership(control, 2, NOW)
    assert seen.alive(NOW) == ["old"]
    assert seen.unowned == [0]


def test_jetstream_times_with_nanoseconds_parse_and_the_zero_time_is_none() -> None:
    assert server_time("2026-12-06T18:00:01.123456789Z") == datetime(
        2026, 12, 6, 18, 0, 1, 123456, tzinfo=UTC
    )
    assert server_time("0001-01-01T00:00:00Z") is None
    assert server_time(None) is None


def test_the_documented_status_document_is_the_model() -> None:
    """CONTRACT.md's admin.status example validates as FleetStatus, and names every field."""
    from pathlib import Path

    from schemas.wire.status import FleetStatus

    text = (Path(__file__).resolve().parents[1] / "docs" / "CONTRACT.md").read_text()
    section = text.split("### admin.status: the document", 1)[1]
    example = json.loads(section.split("```json", 1)[1].split("```", 1)[0])
    doc = FleetStatus.model_validate(example)
    assert doc.model_dump(mode="json") == example  # nothing left out or defaulted


def test_record_keys_name_their_provider_and_resource() -> None:
    """What the watch counts of the retained (done) records are made of."""
    from bridge.watch.model import key_parts, record_key

    assert key_parts(record_key("story", "job", "job_1.v2")) == ("story", "job")
    assert key_parts("m.replica") is None
    assert key_parts("w.x.story.job.j") is None  # not a shard


def test_liveness_is_judged_on_our_clock_once_a_heartbeat_is_seen_changing() -> None:
    """Another pod's clock a minute behind ours: by its renewed_at it looks dead, but its heartbeat
    changes on time as we watch, so it is alive; one whose heartbeat stops changing is dead after
    three renewals (+1 s) of OUR clock, though its clock says it renewed in our future."""
    from bridge.nats.fleet import BeatClock

    clock = BeatClock()
    behind, ahead = NOW - 60, NOW + 60

    def control(tick: int) -> dict[str, bytes]:
        return {
            "m.behind": _beat(behind + 3 * tick, lease=1000),  # renews every 3 s, late clock
            "m.ahead": _beat(ahead, lease=1000),  # renewed once, then stopped
            "l.0": _lease("behind", NOW + 100),
            "l.1": _lease("ahead", NOW + 100),
        }

    # First sight: nothing seen changing yet, only their own clocks to go by.
    assert ownership(control(0), 2, NOW, clock.observe(control(0), 0.0)).alive(NOW) == ["ahead"]
    for tick in range(1, 5):
        seen = ownership(control(tick), 2, NOW, clock.observe(control(tick), 3.0 * tick))
    assert seen.alive(NOW) == ["behind"]  # ahead unchanged for 12 s > 3 x 3 s + 1 s
    assert seen.unowned == [1]
    assert seen.heartbeats["behind"].unchanged_for == 0.0
    assert ownership(control(4), 2, NOW).alive(NOW) == ["ahead"]  # the wall-clock rule alone
