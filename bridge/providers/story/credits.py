"""The credit balance: a gauge refreshed from GET /credits, and one `{p}.evt.credits.low` per episode.

An episode starts when the balance falls below `STORYBRIDGE_CREDITS_LOW_THRESHOLD` and ends when it
is back at or above it. Every replica reads the balance, but the episode lives in the watch bucket
(key `x.credits`, compare-and-set): only the replica whose write starts the episode publishes, with
an event id derived from that write's revision, so replicas and restarts never announce it twice.
The record says whether the event went out, so a publish cut off by a crash is retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import structlog
from nats.js.client import JetStreamContext
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.errors import NotFoundError as JsNotFoundError
from nats.js.kv import KeyValue

from bridge.http.ratelimit import Priority
from bridge.names import Subjects
from bridge.providers.story.client import StoryClient
from schemas.wire.events import CONTENT_TYPE, EVENT_TYPE_PREFIX, CloudEvent

log = structlog.get_logger(__name__)

STATE_KEY = "x.credits"


class CreditsMonitor:
    """Reads the balance every `interval` seconds; announces a low balance once per episode."""

    def __init__(
        self,
        api: StoryClient,
        js: JetStreamContext,
        kv: KeyValue,
        subjects: Subjects,
        *,
        source: str,
        interval: float,
        threshold: float | None,
        metrics: Any = None,
    ) -> None:
        self.api, self.js, self.kv, self.subjects = api, js, kv, subjects
        self.source = source
        self.interval = interval
        self.threshold = threshold
        self.metrics = metrics
        self._task: asyncio.Task[None] | None = None
        self.rounds = 0  # completed checks, for tests and debugging
        self.balance: float | None = None  # the last balance read

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="storybridge-credits")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception as err:  # the API or NATS briefly away: the next round tries again
                log.warning("credit check failed", error=repr(err))
            await asyncio.sleep(self.interval)

    async def check(self) -> float | None:
        """One round: read the balance, update the gauge, move the episode on. Returns the balance."""
        credits = (await self.api.get_credits(priority=Priority.POLL)).data
        balance = credits.balance
        if balance is None:
            return None
        self.balance = float(balance)  # for admin.status (bridge.nats.fleet_report)
        if self.metrics is not None:
            self.metrics.credits_balance.set(balance)
            self.metrics.credits_checked_timestamp_seconds.set_to_current_time()
        if self.threshold is not None:
            await self._episode(float(balance), self.threshold)
        self.rounds += 1
        return float(balance)

    async def _episode(self, balance: float, threshold: float) -> None:
        state, rev = await self._load()
        low = balance < threshold
        if low and not state.get("low"):
            # The event id is chosen once, with the write that starts the episode: whoever
            # publishes it later (us, or another replica after our crash) uses the same one.
            state = {
                "low": True,
                "published": False,
                "eventId": str(uuid.uuid4()),
                "balance": balance,
                "threshold": threshold,
            }
            rev = await self._save(state, rev)
            if rev is None:
                return  # another replica moved first: it announces
        elif not low and state.get("low"):
            await self._save({"low": False}, rev)
            return
        if state.get("low") and not state.get("published") and rev is not None:
            await self._publish(state)
            await self._save({**state, "published": True}, rev)

    async def _load(self) -> tuple[dict[str, Any], int | None]:
        try:
            entry = await self.kv.get(STATE_KEY)
        except (KeyNotFoundError, JsNotFoundError):
            return {}, None
        return (json.loads(entry.value) if entry.value else {}), entry.revision

    async def _save(self, state: dict[str, Any], rev: int | None) -> int | None:
        data = json.dumps(state).encode()
        try:
            if rev is None:
                return int(await self.kv.create(STATE_KEY, data))
            return int(await self.kv.update(STATE_KEY, data, last=rev))
        except (KeyWrongLastSequenceError, JsNotFoundError):
            return None

    async def _publish(self, state: dict[str, Any]) -> None:
        event = CloudEvent(
            id=str(state["eventId"]),
            source=self.source,
            type=f"{EVENT_TYPE_PREFIX}.credits.low",
            subject="credits",
            time=datetime.now(UTC),
            data={"balance": state["balance"], "threshold": state["threshold"]},
        )
        await self.js.publish(
            self.subjects.event("credits.low"),
            event.to_json(),
            headers={"Nats-Msg-Id": event.id, "Content-Type": CONTENT_TYPE},
        )
        log.warning("credit balance low", balance=state["balance"], threshold=state["threshold"])
