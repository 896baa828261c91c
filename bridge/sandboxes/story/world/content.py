"""Synthetic, deterministic content: digests, plan envelopes, manifests, scripts, coverage, bibles.

Nothing here is clever; it only has the documented shapes, so a client parses exactly what the live
API would send. Inputs (ids, text, requests) pick the words, so the same run gives the same content.
"""

from __future__ import annotations

import hashlib
from typing import Any

SITE = "https://sleeperhit.studio"
ARTIFACT_LABELS = {
    "table_read": "Table read",
    "pitch_deck": "Pitch deck",
    "storyboard": "Storyboard",
    "trailer": "Trailer",
    "production_video": "Production video",
}
TABLE_READ_CREDITS = 11
SCENES = 8
ENTRIES_PER_SCENE = 6
ENTRIES_PER_PAGE = 12
BEAT_ROLES = ("hook", "context", "conflict", "proof", "turn", "payoff", "cta")
CASTS = {
    "documentary": [("NARRATOR", "neutral"), ("EXPERT", "female")],
    "podcast": [("HOST", "female"), ("GUEST", "male")],
    "drama": [("MAYA", "female"), ("THEO", "male"), ("NARRATOR", "neutral")],
}


def _h(*parts: object) -> str:
    return hashlib.sha256(":".join(str(p) for p in parts).encode()).hexdigest()


def digest_for(text: str) -> dict[str, Any]:
    sentences = [s.strip() for s in text.replace("\n", " ").split(".") if s.strip()]
    first = sentences[0] if sentences else text[:120]
    claims = [
        {"statement": s[:200], "kind": ("fact", "estimate", "opinion")[i % 3], "attribution": None}
        for i, s in enumerate(sentences[:3])
    ]
    return {
        "summary": " ".join(sentences[:4])[:1000] or first,
        "thesis": first[:200],
        "claims": claims,
        "evidence": [{"claimIndex": i, "support": c["statement"]} for i, c in enumerate(claims)],
        "gaps": ["Does not state independent verification"],
        "rightsNotes": [],
    }


def url_text(uri: str) -> str:
    """What the sandbox 'extracts' from a URL or PDF: repeatable prose mentioning the address."""
    line = f"This document at {uri} describes a launch, its customers and the results they saw. "
    return line * 12


def quote_for(
    requests: list[dict[str, Any]], source_count: int, available: set[str], at: str
) -> dict[str, Any]:
    items: list[dict[str, Any]] = [
        {"kind": "planning", "label": "StoryPlan generation", "credits": 0},
        {
            "kind": "source_digest",
            "label": f"Source digest ({source_count} source{'s' if source_count != 1 else ''})",
            "credits": 0,
        },
    ]
    notes: list[str] = []
    for req in requests:
        kind = req["type"]
        credits = TABLE_READ_CREDITS if kind == "table_read" and kind in available else 0
        items.append(
            {"kind": "artifact", "label": ARTIFACT_LABELS.get(kind, kind), "credits": credits}
        )
        if kind not in available:
            notes.append(f"{kind} is not yet available; it is quoted at 0 credits.")
    return {
        "currency": "studio_credits",
        "total": sum(int(i["credits"]) for i in items),
        "lineItems": items,
        "notes": notes,
        "computedAt": at,
    }


def cast_for(request: dict[str, Any]) -> list[tuple[str, str]]:
    cast = CASTS.get(request.get("mode") or "documentary", CASTS["documentary"])
    if request.get("narrationPolicy") == "suppress":
        cast = [c for c in cast if c[0] != "NARRATOR"] or cast
    return cast


def plan_envelope(plan: dict[str, Any], source_ids: list[str]) -> dict[str, Any]:
    target = plan["target"]
    title = plan.get("title") or f"{target['objective'][:80].capitalize()}"
    beats = [
        {
            "id": f"{role}-{i + 1}",
            "role": role,
            "title": f"{role.capitalize()}: {target['objective'][:60]}",
            "narration": f"For {target['audience']}, the {role} beat moves toward: {target['outcome']}.",
            "visualIntent": "Documentary frame with supporting data",
            "evidenceIds": [f"ev-{i}"] if source_ids else [],
            "estimatedSeconds": 12,
        }
        for i, role in enumerate(BEAT_ROLES)
    ]
    envelope: dict[str, Any] = {
        "version": 1,
        "projectId": plan["projectId"],
        "title": title,
        "target": target,
        "sourceDigest": {
            "summary": f"Synthesis of {len(source_ids)} source(s).",
            "sourceIds": source_ids,
            "evidence": [],
            "gaps": [],
            "rightsNotes": [],
        },
        "thesis": {
            "oneLine": f"{target['objective']}, for {target['audience']}.",
            "supportingClaims": [],
            "avoidClaims": [],
        },
        "journey": {"beats": beats},
        "visualSystem": {
            "style": "Documentary with kinetic data viz",
            "palette": ["#1a1a2e", "#16213e", "#0f3460"],
            "typography": "Sans-serif, high legibility at distance",
        },
        "audioSystem": {
            "voice": "Measured narrator",
            "music": "Ambient, builds through the conflict beat",
            "sfxPolicy": "Minimal",
        },
        "artifacts": [
            {"type": r["type"], "mode": r.get("mode"), "renderPlan": {}}
            for r in plan["artifactRequests"]
        ],
    }
    table_reads = [r for r in plan["artifactRequests"] if r["type"] == "table_read"]
    if table_reads:
        req = table_reads[0]
        envelope["scriptBlueprint"] = {
            "pageTarget": 4,
            "narrationPolicy": req.get("narrationPolicy") or "auto",
            "sceneOutline": [
                {
                    "sceneIndex": i,
                    "heading": f"SCENE {i + 1}",
                    "summary": beats[i % len(beats)]["title"],
                }
                for i in range(SCENES)
            ],
            "cast": [{"character": name, "gender": g} for name, g in cast_for(req)],
            "music": "Adaptive per-scene score",
            "sfx": "Sparse, motivated cues",
        }
    return envelope


def table_read_manifest(
    artifact_id: str, expires_at: str, cast: list[tuple[str, str]]
) -> dict[str, Any]:
    token = "tr." + _h("share", artifact_id)[:40]
    return {
        "type": "table_read",
        "status": "ready",
        "shareToken": token,
        "theaterUrl": f"{SITE}/share/table-read/{token}",
        "theaterFullscreenUrl": f"{SITE}/share/table-read/{token}?view=fullscreen",
        "audio": {
            "mode": "live_on_demand",
            "liveUrl": f"{SITE}/share/table-read-audio/{token}",
            "startLiveUrl": f"{SITE}/api/share/table-read/start-live",
            "recordingUrl": None,
            "recordingDurationMs": None,
            "finalize": None,
            "voiceMap": {
                name: {"voiceId": f"voice_{_h(artifact_id, name)[:8]}", "voiceName": name.title()}
                for name, _ in cast
            },
        },
        "video": {
            "status": "not_rendered",
            "renderUrl": f"/api/v1/artifacts/{artifact_id}/render-video",
            "url": None,
        },
        "expiresAt": expires_at,
    }


def script_entries(cast: list[tuple[str, str]]) -> list[dict[str, Any]]:
    entries = []
    for index in range(SCENES * ENTRIES_PER_SCENE):
        scene = index // ENTRIES_PER_SCENE
        character = cast[index % len(cast)][0]
        entries.append(
            {
                "entryIndex": index,
                "character": character,
                "text": f"Line {index + 1} of scene {scene + 1}, spoken by {character.title()}.",
                "isNarration": character == "NARRATOR",
                "sceneHeading": f"SCENE {scene + 1}",
                "parenthetical": None,
                "page": index // ENTRIES_PER_PAGE + 1,
            }
        )
    return entries


def coverage_report(focus: str | None) -> dict[str, Any]:
    return {
        "logline": "A team discovers what its launch really promises.",
        "strengths": ["Clear central question", "Grounded evidence beats"],
        "weaknesses": ["Midpoint turn could be earned sooner"],
        "verdict": "consider",
        "focus": focus,
    }


def series_bible_content(project_name: str, instructions: str | None) -> dict[str, Any]:
    blank = ("genre", "audience", "tone", "premise", "seasonArc", "themes", "visualStyle")
    content: dict[str, Any] = {key: "" for key in blank}
    content.update(
        {
            "logline": f"{project_name}: a series built from the project's sources.",
            "format": "10 x 22-minute episodes",
            "audioStyle": "",
            "writingStyle": "",
            "worldRules": "",
            "canonTimeline": "",
            "openQuestions": "",
            "notes": instructions or "",
            "episodes": [
                {
                    "id": f"episode-{i}",
                    "label": f"Episode {i}",
                    "title": "Pilot" if i == 1 else f"Episode {i}",
                    "summary": f"Installment {i}.",
                    "status": "planned",
                }
                for i in range(1, 4)
            ],
            "characters": [
                {
                    "id": "character-1",
                    "name": "Sam",
                    "role": "lead",
                    "want": "to ship",
                    "wound": "a past launch that failed",
                    "arc": "learns to trust the team",
                    "voice": "dry, warm",
                    "relationships": "",
                }
            ],
        }
    )
    return content
