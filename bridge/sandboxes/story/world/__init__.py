"""The sandbox's in-memory Story API account: one store per resource, composed in `StoryWorld`.

Each store owns its records, their indexes and their transitions, and is handed explicitly what
it needs: the `Kernel` (lock, clock, scheduler, ids, creation order) and the stores it reads.

    account    AccountStore    credits (the `ledger`), source/artifact type availability,
                               capabilities, agent guidance
    projects   ProjectStore    projects; the root a deleted project hides everything under
    sources    SourceStore     sources, their extraction and digest
    plans      PlanStore       plans: generation, approval, rejection, supersede, resume
    documents  DocumentStore   series bible and cast canon per project
    artifacts  ArtifactStore   artifacts, revisions, the READY guard, share tokens
    cast       CastStore       an artifact's characters, voices, avatar style and portraits
    jobs       JobStore        jobs and their run (which makes artifacts), refine, resume
    renders    RenderStore     finalize audio, render video
    script     ScriptStore     script reads, voice modifications
    music      MusicStore      adaptive music, scene directions, defined clips
    coverage   CoverageStore   coverage reports
    sfx        SfxStore        sound-effect cues
    releases   ReleaseStore    publishing releases per series

Dependencies only point down this list (a store never reaches one made after it), so there are
no cycles. Every public store operation runs inside `Kernel.moment()`: the world lock, then every
transition due by the sandbox clock, so reads always agree. The HTTP layer (`routes_*`) calls
the stores through `call.world`; tests and the bench drive them directly.
"""

from __future__ import annotations

from bridge.sandboxes.kit.clock import SandboxClock
from bridge.sandboxes.story.config import StorySandboxConfig
from bridge.sandboxes.story.world.account import AccountStore
from bridge.sandboxes.story.world.artifacts import ArtifactStore
from bridge.sandboxes.story.world.cast import CastStore
from bridge.sandboxes.story.world.coverage import CoverageStore
from bridge.sandboxes.story.world.documents import DocumentStore
from bridge.sandboxes.story.world.jobs import JobStore
from bridge.sandboxes.story.world.kernel import Kernel
from bridge.sandboxes.story.world.music import MusicStore
from bridge.sandboxes.story.world.plans import PlanStore
from bridge.sandboxes.story.world.projects import ProjectStore
from bridge.sandboxes.story.world.publishing import ReleaseStore
from bridge.sandboxes.story.world.renders import RenderStore
from bridge.sandboxes.story.world.script import ScriptStore
from bridge.sandboxes.story.world.sfx import SfxStore
from bridge.sandboxes.story.world.sources import SourceStore


class StoryWorld:
    """`StoryWorld(config, clock)`: the app holds one, every endpoint reaches it as `call.world`."""

    def __init__(self, config: StorySandboxConfig, clock: SandboxClock) -> None:
        self.config = config
        self.clock = clock
        self.durations = config.durations
        k = self.kernel = Kernel(config, clock)
        self.account = AccountStore(k)
        self.projects = ProjectStore(k)
        self.sources = SourceStore(k, self.projects, self.account)
        self.plans = PlanStore(k, self.projects, self.sources, self.account)
        self.documents = DocumentStore(k, self.projects, self.sources, self.plans)
        self.artifacts = ArtifactStore(k, self.projects)
        self.cast = CastStore(k, self.artifacts)
        self.jobs = JobStore(k, self.projects, self.plans, self.artifacts, self.cast, self.account)
        self.renders = RenderStore(k, self.artifacts, self.account)
        self.script = ScriptStore(k, self.artifacts, self.cast)
        self.music = MusicStore(k, self.artifacts)
        self.coverage = CoverageStore(k, self.artifacts)
        self.sfx = SfxStore(k, self.artifacts)
        self.releases = ReleaseStore(k, self.artifacts)


__all__ = ["StoryWorld"]
