"""Every endpoint of the Text-to-Scene reference, each a few lines over the world."""

from __future__ import annotations

from bridge.providers.syllaby.sandbox import requests as q
from bridge.providers.syllaby.sandbox.core import Call, Endpoint, Reply, ok

BASE = "/text-to-scene"
ONE = BASE + "/{storyboard}"
SCENE = ONE + "/scenes/{scene}"


async def create(call: Call) -> Reply:
    return ok(call.world.create_storyboard(call.body_as(q.StoryboardCreate)), 201)


async def get(call: Call) -> Reply:
    return ok(call.world.get_storyboard(call.storyboard()))


async def update(call: Call) -> Reply:
    rec = call.storyboard()
    return ok(call.world.update_storyboard(rec, call.body_as(q.StoryboardUpdate)))


async def prompt(call: Call) -> Reply:
    rec = call.storyboard()
    return ok(call.world.generate(rec, call.body_as(q.PromptGenerate)), 202)


async def context(call: Call) -> Reply:
    rec = call.storyboard()
    return ok(call.world.context(rec, call.body_as(q.ContextGenerate)))


async def estimate(call: Call) -> Reply:
    return ok(call.world.estimate(call.storyboard()))


async def render(call: Call) -> Reply:
    storyboard, meta = call.world.render(call.storyboard())
    return ok(storyboard, 202, meta=meta)


async def add_scene(call: Call) -> Reply:
    rec = call.storyboard()
    return ok(call.world.add_scene(rec, call.body_as(q.SceneWrite)), 201)


async def update_scene(call: Call) -> Reply:
    scene = call.scene(call.storyboard())
    return ok(call.world.update_scene(scene, call.body_as(q.SceneWrite)))


async def delete_scene(call: Call) -> Reply:
    call.world.delete_scene(call.scene(call.storyboard()))
    return ok({"message": "Accepted"}, 202)


async def scene_status(call: Call) -> Reply:
    return ok(call.world.scene_status(call.scene(call.storyboard())))


async def sort_scenes(call: Call) -> Reply:
    rec = call.storyboard()
    call.world.sort_scenes(rec, call.body_as(q.ScenesSort))
    return ok({"message": "Scenes sorted successfully"})


async def frames(call: Call) -> Reply:
    scene = call.scene(call.storyboard())
    return ok(call.world.frames(scene, call.body_as(q.Frames)))


async def chain(call: Call) -> Reply:
    scene = call.scene(call.storyboard())
    return ok(call.world.chain(scene, call.body_as(q.Chain)))


async def unchain(call: Call) -> Reply:
    return ok(call.world.unchain(call.scene(call.storyboard())))


async def clips(call: Call) -> Reply:
    rec = call.storyboard()
    return ok(call.world.generate_clips(rec, call.body_as(q.ClipsGenerate)), 202)


async def moodboard_upload(call: Call) -> Reply:
    rec = call.storyboard()
    return ok(call.world.moodboard_upload(rec, call.body_as(q.MoodboardPrompt)), 201)


async def moodboard_generate(call: Call) -> Reply:
    rec = call.storyboard()
    return ok(call.world.moodboard_generate(rec, call.body_as(q.MoodboardPrompt)), 202)


# In the reference's order. `scenes/sort` precedes `scenes/{scene}` so "sort" is never an id.
ENDPOINTS: list[Endpoint] = [
    Endpoint("POST", BASE, create, "createTextToScene"),
    Endpoint("POST", ONE + "/prompt", prompt, "generateTextToScenePrompt"),
    Endpoint("POST", ONE + "/context", context, "generateTextToSceneContext"),
    Endpoint("GET", BASE + "/{id}", get, "getTextToScene"),
    Endpoint("PATCH", BASE + "/{id}", update, "updateTextToScene"),
    Endpoint("POST", ONE + "/scenes", add_scene, "createTextToSceneScene"),
    Endpoint("PUT", ONE + "/scenes/sort", sort_scenes, "sortTextToSceneScenes"),
    Endpoint("PATCH", SCENE, update_scene, "updateTextToSceneScene"),
    Endpoint("DELETE", SCENE, delete_scene, "deleteTextToSceneScene"),
    Endpoint("GET", SCENE + "/status", scene_status, "getTextToSceneSceneStatus"),
    Endpoint("PUT", SCENE + "/frames", frames, "assignTextToSceneFrames"),
    Endpoint("PUT", SCENE + "/chain", chain, "chainTextToSceneScene"),
    Endpoint("DELETE", SCENE + "/chain", unchain, "unchainTextToSceneScene"),
    Endpoint("POST", ONE + "/clips", clips, "generateTextToSceneClips"),
    Endpoint("POST", ONE + "/moodboard/upload", moodboard_upload, "uploadTextToSceneMoodboard"),
    Endpoint(
        "POST", ONE + "/moodboard/generate", moodboard_generate, "generateTextToSceneMoodboard"
    ),
    Endpoint("GET", ONE + "/estimate", estimate, "estimateTextToScene"),
    Endpoint("POST", ONE + "/render", render, "renderTextToScene"),
]
