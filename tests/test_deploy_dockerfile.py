"""The Dockerfile, parsed (no docker engine here): stages, user, sources, entrypoint."""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
BUILD_TOOLS = ("build-essential", "gcc", "g++", "make", "python3-dev", "libc6-dev", "git")


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def parse(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARGs and the stages, with continuation lines joined and comments dropped."""
    logical: list[str] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical.append(pending + stripped)
        pending = ""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for entry in logical:
        keyword, _, rest = entry.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            match = re.match(r"(\S+)(?:\s+AS\s+(\S+))?", rest, re.IGNORECASE)
            assert match, entry
            base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], match.group(1))
            stages.append(Stage(base=base, name=match.group(2)))
        elif not stages and keyword == "ARG":
            name, _, default = rest.partition("=")
            args[name] = default
        else:
            assert stages, f"{keyword} before the first FROM"
            stages[-1].instructions.append((keyword, rest.strip()))
    return args, stages


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse(DOCKERFILE.read_text())[1]


def test_builds_in_two_stages_on_slim_python_311(stages: list[Stage]) -> None:
    """A builder and a final stage, both on the slim Python 3.11 image."""
    assert len(stages) >= 2
    for stage in stages:
        assert re.fullmatch(r"python:3\.11-slim(-\w+)?", stage.base), stage.base


def test_builder_makes_wheels_and_final_installs_only_those(stages: list[Stage]) -> None:
    """pip wheel in the builder; the final stage installs offline from the builder's wheels."""
    builder, final = stages[0], stages[-1]
    assert any("pip wheel" in run for run in builder.all("RUN"))
    installs = [run for run in final.all("RUN") if "pip install" in run]
    assert installs and all("--no-index" in run for run in installs)
    assert any(f"from={builder.name}" in run for run in installs)


def test_final_stage_runs_as_the_uid_the_manifests_pin(stages: list[Stage]) -> None:
    """The last USER is 10001 (numeric, so runAsNonRoot can verify it), never root."""
    users = stages[-1].all("USER")
    assert users, "final stage sets no USER"
    assert users[-1].split(":")[0] == "10001"


def test_final_stage_installs_no_build_tools(stages: list[Stage]) -> None:
    """No compilers or dev headers reach the final image."""
    for run in stages[-1].all("RUN"):
        words = re.split(r"\s+", run)
        assert not any(tool in words for tool in BUILD_TOOLS), run


def test_every_copy_source_exists_and_is_not_dockerignored(stages: list[Stage]) -> None:
    """Each COPY from the build context names a repo path that .dockerignore lets through."""
    patterns = [p.strip() for p in (ROOT / ".dockerignore").read_text().splitlines() if p.strip()]
    patterns = [p for p in patterns if not p.startswith("#")]

    def ignored(path: str) -> bool:
        result = False
        for pattern in patterns:
            negate = pattern.startswith("!")
            if fnmatch.fnmatch(path, pattern.lstrip("!")):
                result = not negate
        return result

    sources: list[str] = []
    for stage in stages:
        for args in stage.all("COPY"):
            words = args.split()
            if any(w.startswith("--from") for w in words):
                continue
            sources.extend(w for w in words[:-1] if not w.startswith("--"))
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not ignored(source), f"{source} is excluded by .dockerignore"


def test_entrypoint_is_the_storybridge_script_running_run(stages: list[Stage]) -> None:
    """ENTRYPOINT is the packaged console script, CMD its `run`, and 8080 is exposed."""
    final = stages[-1]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert json.loads(final.all("ENTRYPOINT")[-1]) == ["storybridge"]
    assert "storybridge" in scripts
    assert json.loads(final.all("CMD")[-1]) == ["run"]
    assert "8080" in final.all("EXPOSE")[-1].split()
