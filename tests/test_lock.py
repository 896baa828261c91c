"""The lock files pin, with hashes, every dependency pyproject.toml declares."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REGENERATE = (
    "uv pip compile pyproject.toml --extra otel [--extra dev] --generate-hashes --universal"
)


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _locked(path: Path) -> dict[str, str]:
    """name -> the text of its entry, for every `name==version` of a lock file."""
    entries = re.split(r"\n(?=[A-Za-z0-9])", path.read_text())
    out = {}
    for entry in entries:
        match = re.match(r"([A-Za-z0-9._-]+)==", entry)
        if match:
            out[match.group(1).lower().replace("_", "-")] = entry
    return out


def _declared(*extras: str) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {_name(r) for r in project["dependencies"]}
    for extra in extras:
        names |= {_name(r) for r in project["optional-dependencies"][extra]}
    return names


def test_the_image_lock_pins_every_runtime_dependency_with_hashes() -> None:
    locked = _locked(ROOT / "requirements.lock")
    missing = _declared("otel") - set(locked)
    assert not missing, f"requirements.lock is stale; regenerate: {REGENERATE}"
    assert all("--hash=sha256:" in entry for entry in locked.values())


def test_the_ci_lock_pins_every_dependency_with_hashes() -> None:
    locked = _locked(ROOT / "requirements-dev.lock")
    missing = _declared("otel", "dev") - set(locked)
    assert not missing, f"requirements-dev.lock is stale; regenerate: {REGENERATE}"
    assert all("--hash=sha256:" in entry for entry in locked.values())


def test_ci_and_the_image_install_from_the_locks() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "--require-hashes -r requirements-dev.lock" in ci and "--no-deps -e ." in ci
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "--require-hashes -r requirements.lock" in dockerfile
