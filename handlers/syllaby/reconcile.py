"""The ledger's Syllaby hooks: settle a command whose earlier attempt ended without an outcome.

Syllaby has no Idempotency-Key and no way to ask "did my request arrive?". What it does show is the
storyboard: its status, its video and its scenes. So before a `generate`, `generate_clips` or
`render` is sent, `prepare` reads the storyboard once and the ledger keeps what it saw; after a crash
or a call that ended without an answer, `reconcile` reads it again and compares:

- generate: the storyboard's status moved, with a newer `updated_at`;
- render: the video moved (url, status, id) with a newer `updated_at`, or the storyboard went
  `processing`;
- generate_clips: every named scene moved, each with a newer `updated_at`.

Each only from a state read before the call that was not already in progress: an earlier
generation or render finishing afterwards would look exactly like ours (CONTRACT.md: reconcile
is evidence, not hope).

Visible work is answered `ok: true, replayed: true, reconciled: true` (the result is the storyboard
read that proved it) and the command's watches are armed as the handler would have. Anything else
(create, context, moodboards, scene create/delete, unchain, or no visible change) cannot be told
apart from "never arrived": `outcome_unknown`, not retryable, the ledger entry in `error.details`.
Sending it again could charge twice; a person (or the caller, with a new commandId) decides.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bridge.http.errors import NotFound
from bridge.ledger.ledger import LedgerEntry
from bridge.ledger.reconcile import OUTCOME_UNKNOWN
from handlers.base import CommandContext
from handlers.syllaby import arm, client_of
from schemas.syllaby.commands import StoryboardGenerateClipsCommand, SyllabyCommand
from schemas.wire.outcome import Outcome, OutcomeError

READ_BEFORE = frozenset(
    {
        "syllaby.storyboard.generate",
        "syllaby.storyboard.render",
        "syllaby.storyboard.generate_clips",
    }
)
IN_PROGRESS_PREFIXES = ("generating", "clip:queued", "clip:generating")
# A storyboard's `processing` and a video's own progress statuses (CONTRACT.md's Syllaby section).
VIDEO_IN_PROGRESS = frozenset({"processing", "queued", "rendering"})


def _scene_marks(data: dict[str, Any], ids: set[int] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in data.get("scenes") or []:
        if isinstance(item, dict) and (ids is None or item.get("id") in ids):
            out[str(item.get("id"))] = {
                "status": item.get("status"),
                "updated_at": item.get("updated_at"),
            }
    return out


def marks(command: str, data: Any, cmd: SyllabyCommand) -> dict[str, Any]:
    """The few fields of a storyboard read that tell whether `command`'s work began."""
    data = data if isinstance(data, dict) else {}
    video = data.get("video") if isinstance(data.get("video"), dict) else {}
    out: dict[str, Any] = {"status": data.get("status"), "updated_at": data.get("updated_at")}
    if command == "syllaby.storyboard.render":
        out["video"] = {k: video.get(k) for k in ("id", "status", "url", "updated_at")}
    if isinstance(cmd, StoryboardGenerateClipsCommand):
        out["scenes"] = _scene_marks(data, {item.id for item in cmd.scenes})
    return out


def _in_progress(status: Any) -> bool:
    text = str(status or "")
    return text.startswith(IN_PROGRESS_PREFIXES) or text in VIDEO_IN_PROGRESS


def _when(stamp: Any) -> datetime | None:
    if not isinstance(stamp, str) or not stamp:
        return None
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _newer(now: Any, before: Any) -> bool:
    """Whether the timestamp `now` is later than `before` (parsed: `...05Z` is earlier than
    `...05.5Z`, whatever their text sorts as); with no `before` to compare against, any change
    counts, as no earlier one was seen. A timestamp that does not parse proves nothing."""
    later = _when(now)
    if later is None:
        return False
    earlier = _when(before)
    return earlier is None or later > earlier


def began(command: str, before: dict[str, Any], now: dict[str, Any]) -> bool:
    """Whether the storyboard shows `command`'s work begun since `before` was read (right before
    the request was sent). Evidence, not hope: the state read before must not already be in
    progress (then a later change may be that earlier work, not ours), and the change must be
    newer than that read."""
    if command == "syllaby.storyboard.generate":
        if _in_progress(before.get("status")):
            return False
        moved = now.get("status") != before.get("status")
        return moved and _newer(now.get("updated_at"), before.get("updated_at"))
    if command == "syllaby.storyboard.render":
        was_video = before.get("video") or {}
        # A render under way shows as the storyboard's `processing`; the video's own status is no
        # guide (a never-rendered video already says `rendering`, the reference's quirk).
        if _in_progress(before.get("status")):
            return False  # an earlier render still running: its finishing would look like ours
        video = now.get("video") or {}
        if video != was_video and _newer(video.get("updated_at"), was_video.get("updated_at")):
            return True
        return now.get("status") == "processing" and _newer(
            now.get("updated_at"), before.get("updated_at")
        )
    if command == "syllaby.storyboard.generate_clips":
        was, seen = before.get("scenes") or {}, now.get("scenes") or {}
        if not was or any(_in_progress(mark.get("status")) for mark in was.values()):
            return False
        return all(
            scene_id in seen
            and seen[scene_id] != mark
            and _newer(seen[scene_id].get("updated_at"), mark.get("updated_at"))
            for scene_id, mark in was.items()
        )
    return False


class SyllabyReconciler:
    """`bridge.ledger.Reconciler` for the Syllaby commands."""

    async def prepare(self, cmd: SyllabyCommand, ctx: CommandContext) -> dict[str, Any]:
        target: dict[str, Any] = {"path": cmd.path_values()}
        if cmd.command in READ_BEFORE:
            read = await client_of(ctx).request(
                "GET", f"text-to-scene/{cmd.path()['storyboard_id']}"
            )
            target["before"] = marks(cmd.command, read.data, cmd)
        return target

    async def reconcile(
        self, entry: LedgerEntry, cmd: SyllabyCommand, ctx: CommandContext
    ) -> Outcome:
        before = entry.target.get("before")
        if cmd.command in READ_BEFORE and isinstance(before, dict):
            try:
                read = await client_of(ctx).request(
                    "GET", f"text-to-scene/{cmd.path()['storyboard_id']}"
                )
            except NotFound:
                read = None  # the storyboard is gone: nothing can be told any more
            if read is not None and began(cmd.command, before, marks(cmd.command, read.data, cmd)):
                await arm(cmd, read.raw, ctx)
                return Outcome(
                    commandId=ctx.command_id,
                    command=cmd.command,
                    ok=True,
                    status=read.status,
                    replayed=True,
                    reconciled=True,
                    result=read.raw,
                )
        return Outcome.failure(
            command_id=ctx.command_id,
            command=cmd.command,
            error=OutcomeError(
                code=OUTCOME_UNKNOWN,
                message=(
                    f"an earlier attempt of {cmd.command} ended without an answer and Syllaby's "
                    "state cannot tell whether it took effect; it is not sent again (it could "
                    "charge twice): check the storyboard, then use a new commandId if needed"
                ),
                retryable=False,
                details={"ledger": entry.public()},
            ),
        )
