from __future__ import annotations

from nats.aio.client import Client as NatsClient


async def test_embedded_server_has_jetstream(nc: NatsClient) -> None:
    """The embedded server answers JetStream API calls, so streams and KV can live in it."""
    info = await nc.jetstream().account_info()
    assert info.limits is not None
