"""What every provider promises of a command (CONTRACT.md): over request/reply and the durable
stream alike it is executed once at the API and its watch publishes the resource's events; the
same commandId sent again has no second effect."""

from __future__ import annotations

from bridge import plugins
from tests.capabilities.kit import PROVIDERS, Profile, World, profile_for, statuses
from tests.fixtures.bridge import send
from tests.fixtures.waiting import until


def test_every_installed_provider_is_asked_through_its_profile(echo_installed: None) -> None:
    """A provider installed but left out of the shared tests would promise nothing tested."""
    assert sorted(PROVIDERS) == sorted(item.name for item in plugins.installed())
    assert [profile_for(name).name for name in PROVIDERS] == PROVIDERS


async def test_a_command_over_either_path_acts_once_and_its_watch_publishes(
    provider: Profile, world: World
) -> None:
    bridge = await world.start_bridge()
    assert set(bridge.running) == {"story", "syllaby", "echo"}
    made = []
    for path in ("request", "durable"):
        payload, resource_id = await provider.make(world, path, f"via-{path}")
        # The watch is running: its first event is out while the sandbox's clock stands still.
        await until(lambda r=resource_id: provider.events_of(world, r))
        made.append((payload, resource_id))
    provider.finish(world)
    for payload, resource_id in made:
        await until(
            lambda r=resource_id: provider.final_status in statuses(provider.events_of(world, r))
        )
        seen = statuses(provider.events_of(world, resource_id))
        assert seen.count(provider.final_status) == 1, seen
        event = provider.events_of(world, resource_id)[-1][1]
        assert event["type"].endswith(f".{provider.final_status}") and event["id"]
        assert provider.effects(world, payload) == 1


async def test_one_command_id_sent_four_times_has_one_effect(
    provider: Profile, world: World
) -> None:
    """Three durable sends and one request under one commandId: one resource at the API, every
    answer naming it, the re-sends told apart as replays."""
    await world.start_bridge()
    payload = {**provider.prepare(world, "only-once"), "commandId": f"once-{provider.name}"}
    results = [
        await send(world.nc, world.outcomes, "durable", provider.command, payload) for _ in range(3)
    ]
    results.append(await send(world.nc, world.outcomes, "request", provider.command, payload))

    assert all(r["ok"] for r in results), results
    assert len({provider.created_id(payload, r) for r in results}) == 1
    assert [r["replayed"] for r in results] == [False, True, True, True]
    assert provider.effects(world, payload) == 1
    provider.check_resends(world, payload, sends=4)
