"""Every endpoint of the Text-to-Scene reference, each a few lines over the world."""

from __future__ import annotations

from bridge.sandboxes.kit.answer import Answer
from bridge.sandboxes.syllaby import requests as q
from bridge.sandboxes.syllaby.core import SyllabyCall, SyllabyEndpoint, ok

BASE = "/text-to-scene"
ONE = BASE + "/{storyboard}"
SCENE = ONE + "/scenes/{scene}"


async def create(call: SyllabyCall) -> Answer:
    return ok(call.world.create_storyboard(call.body_as(q.VendorStoryboardCreate)), 201)


async def get(call: SyllabyCall) -> Answer:
    return ok(call.world.get_storyboard(call.storyboard()))


async def update(call: SyllabyCall) -> Answer:
    rec = call.storyboard()
    return ok(call.world.update_storyboard(rec, call.body_as(q.VendorStoryboardUpdate)))


async def prompt(call: SyllabyCall) -> Answer:
    rec = call.storyboard()
    return ok(call.world.generate(rec, call.body_as(q.VendorPromptGenerate)), 202)


async def context(call: SyllabyCall) -> Answer:
    rec = call.storyboard()
    return ok(call.world.context(rec, call.body_as(q.VendorContextGenerate)))


async def estimate(call: SyllabyCall) -> Answer:
    return ok(call.world.estimate(call.storyboard()))


async def render(call: SyllabyCall) -> Answer:
    storyboard, meta = call.world.render(call.storyboard())
    return ok(storyboard, 202, meta=meta)


async def add_scene(call: SyllabyCall) -> Answer:
    rec = call.storyboard()
    return ok(call.world.add_scene(rec, call.body_as(q.VendorSceneWrite)), 201)


async def update_scene(call: SyllabyCall) -> Answer:
    scene = call.scene(call.storyboard())
    return ok(call.world.update_scene(scene, call.body_as(q.VendorSceneWrite)))


async def delete_scene(call: SyllabyCall) -> Answer:
    call.world.delete_scene(call.scene(call.storyboard()))
    return ok({"message": "Accepted"}, 202)


async def scene_status(call: SyllabyCall) -> Answer:
    return ok(call.world.scene_status(call.scene(call.storyboard())))


async def sort_scenes(call: SyllabyCall) -> Answer:
    rec = call.storyboard()
    call.world.sort_scenes(rec, call.body_as(q.VendorScenesSort))
    return ok({"message": "Scenes sorted successfully"})


async def frames(call: SyllabyCall) -> Answer:
    scene = call.scene(call.storyboard())
    return ok(call.world.frames(scene, call.body_as(q.VendorFrames)))


async def chain(call: SyllabyCall) -> Answer:
    scene = call.scene(call.storyboard())
    return ok(call.world.chain(scene, call.body_as(q.VendorChain)))


async def unchain(call: SyllabyCall) -> Answer:
    return ok(call.world.unchain(call.scene(call.storyboard())))


async def clips(call: SyllabyCall) -> Answer:
    rec = call.storyboard()
    return ok(call.world.generate_clips(rec, call.body_as(q.VendorClipsGenerate)), 202)


async def moodboard_upload(call: SyllabyCall) -> Answer:
    rec = call.storyboard()
    return ok(call.world.moodboard_upload(rec, call.body_as(q.VendorMoodboardPrompt)), 201)


async def moodboard_generate(call: SyllabyCall) -> Answer:
    rec = call.storyboard()
    return ok(call.world.moodboard_generate(rec, call.body_as(q.VendorMoodboardPrompt)), 202)


# In the reference's order. `scenes/sort` precedes `scenes/{scene}` so "sort" is never an id.
ENDPOINTS: list[SyllabyEndpoint] = [
    SyllabyEndpoint("POST", BASE, create, "createTextToScene"),
    SyllabyEndpoint("POST", ONE + "/prompt", prompt, "generateTextToScenePrompt"),
    SyllabyEndpoint("POST", ONE + "/context", context, "generateTextToSceneContext"),
    SyllabyEndpoint("GET", BASE + "/{id}", get, "getTextToScene"),
    SyllabyEndpoint("PATCH", BASE + "/{id}", update, "updateTextToScene"),
    SyllabyEndpoint("POST", ONE + "/scenes", add_scene, "createTextToSceneScene"),
    SyllabyEndpoint("PUT", ONE + "/scenes/sort", sort_scenes, "sortTextToSceneScenes"),
    SyllabyEndpoint("PATCH", SCENE, update_scene, "updateTextToSceneScene"),
    SyllabyEndpoint("DELETE", SCENE, delete_scene, "deleteTextToSceneScene"),
    SyllabyEndpoint("GET", SCENE + "/status", scene_status, "getTextToSceneSceneStatus"),
    SyllabyEndpoint("PUT", SCENE + "/frames", frames, "assignTextToSceneFrames"),
    SyllabyEndpoint("PUT", SCENE + "/chain", chain, "chainTextToSceneScene"),
    SyllabyEndpoint("DELETE", SCENE + "/chain", unchain, "unchainTextToSceneScene"),
    SyllabyEndpoint("POST", ONE + "/clips", clips, "generateTextToSceneClips"),
    SyllabyEndpoint(
        "POST", ONE + "/moodboard/upload", moodboard_upload, "uploadTextToSceneMoodboard"
    ),
    SyllabyEndpoint(
        "POST", ONE + "/moodboard/generate", moodboard_generate, "generateTextToSceneMoodboard"
    ),
    SyllabyEndpoint("GET", ONE + "/estimate", estimate, "estimateTextToScene"),
    SyllabyEndpoint("POST", ONE + "/render", render, "renderTextToScene"),
]
