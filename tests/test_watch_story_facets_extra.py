"""The added facets as pure functions: which record counts, what a status is, when a set settles."""

from __future__ import annotations

from typing import Any

from bridge.providers.story.watch.facets_extra import is_terminal, observe
from bridge.watch.model import Reading, WatchSpec

ART = "cma_1"


def spec(*facets: str) -> WatchSpec:
    return WatchSpec(provider="story", resource="artifact", id=ART, facets=facets)


def art(modifications: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "id": ART,
        "currentVersion": 1,
        "manifest": {"audio": {"modifications": modifications or []}},
    }


class TestVoiceModification:
    def test_the_newest_record_of_each_range_counts(self) -> None:
        """Two records for 0-2: the later one's status is the range's; 3-4 is its own chain."""
        records = [
            {"id": "m1", "startEntryIndex": 0, "endEntryIndex": 2, "status": "failed",
             "createdAt": "2026-12-01T00:00:00Z"},
            {"id": "m2", "startEntryIndex": 3, "endEntryIndex": 4, "status": "ready",
             "createdAt": "2026-12-01T00:00:01Z"},
            {"id": "m3", "startEntryIndex": 0, "endEntryIndex": 2, "status": "rendering",
             "createdAt": "2026-12-01T00:00:02Z"},
        ]  # fmt: skip
        obs = observe(spec("voice_modification"), Reading(art(records)))
        assert {(o.part, o.status) for o in obs} == {("0-2", "rendering"), ("3-4", "ready")}
        assert {o.state_key for o in obs} == {
            f"artifact:{ART}:voice_modification:0-2", f"artifact:{ART}:voice_modification:3-4"
        }  # fmt: skip
        assert not is_terminal(obs)

    def test_a_new_record_with_the_same_status_is_a_new_change(self) -> None:
        """Re-applying an effect to a range (a new record id) changes the token even at `ready`."""
        first = observe(
            spec("voice_modification"),
            Reading(
                art([{"id": "m1", "startEntryIndex": 0, "endEntryIndex": 1, "status": "ready"}])
            ),
        )
        second = observe(
            spec("voice_modification"),
            Reading(
                art(
                    [
                        {"id": "m1", "startEntryIndex": 0, "endEntryIndex": 1, "status": "ready"},
                        {"id": "m2", "startEntryIndex": 0, "endEntryIndex": 1, "status": "ready"},
                    ]
                )
            ),
        )
        assert first[0].change_token != second[0].change_token  # fmt: skip


class TestSfx:
    def test_a_cue_is_draft_ready_or_failed(self) -> None:
        """No soundUrl: draft; soundUrl and not a draft: ready; a generation error: failed."""
        cues = [
            {"id": "a", "isDraft": True, "soundUrl": None},
            {"id": "b", "isDraft": False, "soundUrl": "https://x/b.mp3"},
            {"id": "c", "isDraft": True, "soundUrl": None, "generationError": "boom"},
        ]
        obs = observe(spec("sfx"), Reading(art(), {"sfx": {"cues": cues}}))
        assert {o.part: o.status for o in obs} == {"a": "draft", "b": "ready", "c": "failed"}

    def test_without_the_side_read_nothing_is_observed(self) -> None:
        """The provider reads /sfx only when the facet is followed; no read, no observation."""
        assert observe(spec("sfx"), Reading(art())) == []


class TestMusicClips:
    def clips(self, *statuses: str) -> dict[str, Any]:
        beds = [
            {"sceneIndex": i, "status": s, "updatedAt": f"t{i}"} for i, s in enumerate(statuses)
        ]
        return {"musicMode": "defined_clips", "totalScenes": len(statuses), "definedClips": beds}

    def test_the_set_settles_when_no_bed_is_in_flight(self) -> None:
        """rendering while any bed is pending or rendering; settled once all are ready/failed."""
        watch = spec("music_clips", "music_clip")
        busy = observe(watch, Reading(art(), {"music": self.clips("ready", "rendering")}))
        done = observe(watch, Reading(art(), {"music": self.clips("ready", "failed")}))
        assert [o.status for o in busy if o.facet == "music_clips"] == ["rendering"]
        assert [o.status for o in done if o.facet == "music_clips"] == ["settled"]
        assert not is_terminal(busy) and is_terminal(done)

    def test_only_a_failed_bed_is_an_event(self) -> None:
        """Per-bed observations are silent unless the bed failed; the failed one names its scene."""
        obs = observe(spec("music_clip"), Reading(art(), {"music": self.clips("ready", "failed")}))
        loud = [(o.part, o.status) for o in obs if not o.silent]
        assert loud == [("1", "failed")]

    def test_adaptive_music_has_no_clip_set(self) -> None:
        """Without musicMode defined_clips the set's state is `none`, silent and settled."""
        obs = observe(spec("music_clips"), Reading(art(), {"music": {"status": "ready"}}))
        assert [(o.status, o.silent) for o in obs] == [("none", True)]


def test_a_release_is_terminal_only_when_published_or_failed() -> None:
    """release: draft and publishing keep the watch; published ends it."""
    release = WatchSpec(provider="story", resource="release", id="r1", parents={"seriesId": "s"})
    for status, done in (("draft", False), ("publishing", False), ("published", True)):
        obs = observe(release, Reading({"id": "r1", "status": status}))
        assert obs[0].subject_path == "publishing-releases/r1"
        assert is_terminal(obs) is done


def test_parts_get_their_own_event_ids_and_ids_without_parts_are_unchanged() -> None:
    """Two ranges reaching `ready` at the same revision are two events; an observation without a
    part keeps the id it had before parts existed."""
    import uuid

    from bridge.watch.events import EVENT_ID_NAMESPACE, event_id
    from bridge.watch.model import Observation

    def ready(part: str | None) -> Observation:
        return Observation(resource="artifact", id=ART, facet="voice_modification",
                           status="ready", part=part)  # fmt: skip

    assert event_id("story", ready("0-1"), 0) != event_id("story", ready("2-3"), 0)
    legacy = uuid.uuid5(EVENT_ID_NAMESPACE, f"story|artifact|{ART}|voice_modification|ready|1|0")
    assert event_id("story", ready(None), 0) == str(legacy)


class TestCast:
    def art(self, voices: dict[str, str], **extra: Any) -> dict[str, Any]:
        voice_map = {c: {"voiceId": v, "voiceName": c.title(), **extra} for c, v in voices.items()}
        return {
            "id": ART,
            "currentVersion": 1,
            "updatedAt": "2026-12-01T00:00:00Z",
            "manifest": {"audio": {"voiceMap": voice_map}},
        }

    def test_the_fingerprint_follows_voice_ids_only_and_not_their_order(self) -> None:
        """Same voices in another order, or a new voiceName: same token; another voiceId: not."""
        watch = spec("cast")
        (one,) = observe(watch, Reading(self.art({"A": "v1", "B": "v2"})))
        (reordered,) = observe(watch, Reading(self.art({"B": "v2", "A": "v1"}, voiceName="x")))
        (recast,) = observe(watch, Reading(self.art({"A": "v1", "B": "v9"})))
        assert one.change_token == reordered.change_token != recast.change_token
        assert (one.facet, one.status, one.part, one.silent) == ("cast", "changed", None, False)
        assert one.snapshot["manifest"]["audio"]["voiceMap"]["B"]["voiceId"] == "v2"

    def test_the_cast_is_terminal_at_once_and_silent_without_a_voice_map(self) -> None:
        """A recast is synchronous: the first read settles it. No manifest: `none`, silent."""
        (seen,) = observe(spec("cast"), Reading(self.art({"A": "v1"})))
        (bare,) = observe(spec("cast"), Reading({"id": ART, "manifest": None}))
        assert is_terminal([seen]) and is_terminal([bare])
        assert (bare.status, bare.silent) == ("none", True)

    def test_each_change_of_the_map_is_one_event_and_an_unchanged_map_none(self) -> None:
        """First sight after a recast publishes `changed`; the same map again publishes nothing;
        a new voice publishes the next `changed` with its own id and the chain's previousStatus."""
        from bridge.names import Subjects
        from bridge.providers.story.watch.provider import StoryProvider
        from bridge.watch.model import WatchRecord
        from bridge.watch.transition import stage_changes

        provider = StoryProvider(object(), base_url="http://sandbox/api/v1")
        record = WatchRecord(spec=spec("cast"))
        subjects = Subjects("story")

        def read(voices: dict[str, str], at: str) -> list[Any]:
            snap = Reading({**self.art(voices), "updatedAt": at})
            return stage_changes(record, provider, provider.observe(record.spec, snap), subjects, 1)

        first = read({"A": "v1"}, "2026-12-01T00:00:01Z")
        again = read({"A": "v1"}, "2026-12-01T00:00:02Z")
        second = read({"A": "v2"}, "2026-12-01T00:00:03Z")
        assert [e.subject for e in first] == ["story.evt.artifact.cast.changed"]
        assert again == []
        assert len(second) == 1 and second[0].id != first[0].id
        data = second[0].payload["data"]
        assert (data["facet"], data["status"], data["previousStatus"]) == (
            "cast",
            "changed",
            "changed",
        )
        assert data["snapshot"]["manifest"]["audio"]["voiceMap"]["A"]["voiceId"] == "v2"


def test_an_added_facet_survives_a_merge_with_a_watch_of_the_defaults() -> None:
    """watch.add (facets=None, the defaults) then a recast (`cast`): the merged watch spells the
    defaults out and adds `cast`, so the recast is not absorbed by the earlier watch.add; the
    other way round too. Two default watches stay None."""
    from bridge.providers.story.watch.provider import StoryProvider
    from bridge.watch.model import merge_specs as _merge

    defaults = StoryProvider(object(), base_url="http://x").default_facets
    plain = WatchSpec(provider="story", resource="artifact", id=ART)
    recast = spec("cast")
    assert _merge(plain, recast, defaults).facets == (
        "status",
        "finalize",
        "video",
        "revised",
        "cast",
    )
    assert _merge(recast, plain, defaults).facets == (
        "cast",
        "status",
        "finalize",
        "video",
        "revised",
    )
    assert _merge(plain, plain, defaults).facets is None
    assert _merge(plain, recast).facets is None  # a provider without default_facets: as before
