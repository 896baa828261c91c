"""`storybridge sandbox --provider syllaby` serves the Syllaby sandbox alone, at /v2, with the
API's 30 requests a minute, and `--key` narrows the accepted tokens without printing them."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import httpx
import pytest

from tests.fixtures.cli import CLI, sandbox_process
from tests.fixtures.syllaby_sandbox import any_token

LISTED = any_token()


class Served:
    def __init__(self, proc: subprocess.Popen[bytes], port: int) -> None:
        self.proc = proc
        self.base = f"http://127.0.0.1:{port}/v2"
        self.control = f"http://127.0.0.1:{port}/_sandbox"

    def create(self, token: str) -> httpx.Response:
        return httpx.post(
            f"{self.base}/text-to-scene",
            json={"title": "From the CLI", "mode": "wizard"},
            headers={"Authorization": f"Bearer {token}"},
        )


def _serve(*options: str) -> Iterator[Served]:
    options = ("--provider", "syllaby", *options)
    with sandbox_process(*options, ready_path="/_sandbox/clock") as (proc, port):
        yield Served(proc, port)


@pytest.fixture
def any_token_sandbox() -> Iterator[Served]:
    yield from _serve("--speed", "10")


@pytest.fixture
def listed_token_sandbox() -> Iterator[Served]:
    yield from _serve("--key", LISTED)


def test_it_serves_the_reference_paths_with_the_api_rate_limit(any_token_sandbox: Served) -> None:
    response = any_token_sandbox.create(any_token())
    assert response.status_code == 201
    assert isinstance(response.json()["data"]["id"], int)
    assert response.headers["X-RateLimit-Limit"] == "30"
    assert httpx.get(f"{any_token_sandbox.control}/clock").json()["speed"] == 10


def test_a_listed_token_is_the_only_one_accepted_and_never_printed(
    listed_token_sandbox: Served,
) -> None:
    assert listed_token_sandbox.create(LISTED).status_code == 201
    assert listed_token_sandbox.create(any_token()).status_code == 401
    listed_token_sandbox.proc.terminate()
    output, _ = listed_token_sandbox.proc.communicate(timeout=30)
    assert b"1 listed token(s)" in output
    assert LISTED.split("|")[1].encode() not in output


def test_an_unknown_provider_is_refused() -> None:
    done = subprocess.run(
        [*CLI, "sandbox", "--provider", "other"], capture_output=True, timeout=60, check=False
    )
    assert done.returncode == 2
    said = (done.stdout + done.stderr).decode()
    assert "--provider is one of story, syllaby, not 'other'" in " ".join(said.split()), said
