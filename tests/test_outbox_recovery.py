"""The outbox after a SIGKILL between publish and clear, past the duplicate window, with the events
stream unreachable when the bridge comes back: the event appears exactly once.

"Unreachable" is real: the nats-server's own permissions deny the bridge's user every way into
STORYBRIDGE_EVENTS (publish, message lookups, consumers) until a config reload (SIGHUP) lifts it.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import pytest

from bridge.names import EVENTS_STREAM, Subjects
from bridge.nats.embedded import find_nats_server, free_port
from bridge.nats.streams import declare_standalone
from bridge.watch import WatchEngine
from bridge.watch.model import WatchRecord
from tests.fixtures.waiting import until
from tests.test_watch_engine import SUBJECTS, FileToyProvider, events, settings, spec

pytestmark = pytest.mark.slow

OPEN = '{ publish: { allow: [">"] }, subscribe: { allow: [">"] } }'
CLOSED = (
    '{ publish: { allow: [">"], deny: ["story.evt.>", '
    '"$JS.API.STREAM.MSG.GET.STORYBRIDGE_EVENTS", "$JS.API.DIRECT.GET.STORYBRIDGE_EVENTS.>", '
    '"$JS.API.CONSUMER.CREATE.STORYBRIDGE_EVENTS", "$JS.API.CONSUMER.CREATE.STORYBRIDGE_EVENTS.>", '
    '"$JS.API.CONSUMER.DURABLE.CREATE.STORYBRIDGE_EVENTS.>"] }, subscribe: { allow: [">"] } }'
)


class GuardedNats:
    """A nats-server with an `admin` user and a `bridge` user whose permissions can be switched."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.conf = root / "nats.conf"
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self, user: str) -> str:
        return f"nats://{user}:{user}@127.0.0.1:{self.port}"

    def configure(self, bridge_permissions: str) -> None:
        store = str((self.root / "js").resolve())
        self.conf.write_text(
            f'listen: "127.0.0.1:{self.port}"\n'
            f'jetstream: {{ store_dir: "{store}" }}\n'
            "authorization { users = [\n"
            "  { user: admin, password: admin }\n"
            f"  {{ user: bridge, password: bridge, permissions: {bridge_permissions} }}\n"
            "] }\n"
        )
        if self.proc is not None:
            self.proc.send_signal(signal.SIGHUP)  # reload: permissions change on live connections

    def start(self) -> None:
        self.configure(OPEN)
        self.proc = subprocess.Popen(
            [find_nats_server(), "-c", str(self.conf), "-l", str(self.root / "nats.log")]
        )

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[GuardedNats]:
    server = GuardedNats(tmp_path)
    server.start()
    yield server
    server.stop()


async def killed_after_publish(nats_url: str, path: str) -> None:
    """A replica that dies by SIGKILL the moment its first event is acknowledged: the event is in
    the stream, the record still holds it staged."""
    from bridge.watch.outbox import Outbox

    real = Outbox.publish

    async def publish_then_die(self: Outbox, event: Any) -> int:
        seq = await real(self, event)
        os.kill(os.getpid(), signal.SIGKILL)
        return seq

    Outbox.publish = publish_then_die  # type: ignore[method-assign]
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    kv = await js.key_value("STORYBRIDGE_WATCHES")
    eng = WatchEngine(js, kv, {"toy": FileToyProvider(path)}, SUBJECTS, settings())
    await eng.start()
    await eng.add(spec())
    await asyncio.Event().wait()


async def _connect(url: str) -> Any:
    for _ in range(100):
        try:
            return await nats.connect(url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
        except Exception:
            await asyncio.sleep(0.1)
    raise AssertionError("nats-server did not come up")


async def test_event_staged_before_a_kill_appears_once_after_the_window_with_the_stream_unreachable(
    guarded: GuardedNats, tmp_path: Path
) -> None:
    admin = await _connect(guarded.url("admin"))
    js = admin.jetstream()
    await declare_standalone(js, Subjects("story"))
    status = tmp_path / "status.json"
    status.write_text(json.dumps({"t1": "running"}))
    code = (
        "import asyncio, sys; from tests.test_outbox_recovery import killed_after_publish; "
        "asyncio.run(killed_after_publish(sys.argv[1], sys.argv[2]))"
    )
    victim = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, guarded.url("admin"), str(status)
    )
    assert await asyncio.wait_for(victim.wait(), 60) == -signal.SIGKILL
    kv = await js.key_value("STORYBRIDGE_WATCHES")
    staged = WatchRecord.decode((await kv.get(spec().key)).value).outbox
    assert len(staged) == 1
    assert [e["id"] for e, _ in await events(js)] == [staged[0].id]

    # Down longer than the duplicate window: JetStream's dedup no longer knows the id. (The window
    # is set below the bridge's 120 s floor so the test need not wait two minutes for it.)
    config = (await js.stream_info(EVENTS_STREAM)).config
    config.duplicate_window = 0.5
    await js.update_stream(config)
    await asyncio.sleep(1.0)  # the window passing, not a wait for "nothing else happens"

    guarded.configure(CLOSED)
    bridge = await _connect(guarded.url("bridge"))
    await until(lambda: _denied(bridge))
    bjs = bridge.jetstream()
    engine = WatchEngine(
        bjs,
        await bjs.key_value("STORYBRIDGE_WATCHES"),
        {"toy": FileToyProvider(str(status))},
        SUBJECTS,
        settings(replica_id="restarted"),
    )
    await engine.start()  # must not fail (nor crash-loop) with the stream out of reach
    try:
        await until(lambda: engine._flush_failures.get(spec().key, 0) >= 2, limit=60)
        assert (await js.stream_info(EVENTS_STREAM)).state.messages == 1
        assert len(WatchRecord.decode((await kv.get(spec().key)).value).outbox) == 1

        guarded.configure(OPEN)
        await until(lambda: _outbox_empty(kv), limit=60)
        status.write_text(json.dumps({"t1": "done"}))
        await until(lambda: _count(js, 2), limit=60)
        await until(lambda: _outbox_empty(kv), limit=60)
    finally:
        await engine.stop()
        await bridge.close()
    got = await events(js)
    assert [e["data"]["status"] for e, _ in got] == ["running", "done"]
    assert len({e["id"] for e, _ in got}) == 2
    await admin.close()


async def _denied(nc: Any) -> bool:
    try:
        await nc.jetstream().get_msg(EVENTS_STREAM, seq=1)
    except Exception:
        return True
    return False


async def _outbox_empty(kv: Any) -> bool:
    return not WatchRecord.decode((await kv.get(spec().key)).value).outbox


async def _count(js: Any, n: int) -> bool:
    return bool((await js.stream_info(EVENTS_STREAM)).state.messages >= n)
