"""StorySandboxServer and serve(): uvicorn on loopback, in a thread or in the foreground."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest

from bridge.sandboxes.story import StorySandboxConfig, StorySandboxServer
from tests.fixtures.requestlog import requests_of
from tests.fixtures.sandbox import SandboxApi, any_key


def test_server_exposes_urls_control_and_state() -> None:
    """base_url ends in /api/v1 on a real port; control and state see the same sandbox."""
    with StorySandboxServer(StorySandboxConfig(manual_clock=True)) as sandbox:
        assert sandbox.port > 0
        assert sandbox.base_url == f"http://127.0.0.1:{sandbox.port}/api/v1"
        api = SandboxApi(sandbox, any_key())
        try:
            project_id = api.project("seen in-process")
        finally:
            api.close()
        assert sandbox.state.world.projects.records[project_id].body["name"] == "seen in-process"
        assert len(requests_of(sandbox)) == 1
    with pytest.raises(httpx.ConnectError):
        httpx.get(sandbox.base_url + "/openapi.json")


def test_two_servers_are_independent() -> None:
    """Each server has its own port and its own world."""
    with StorySandboxServer() as one, StorySandboxServer() as two:
        assert one.port != two.port
        api = SandboxApi(one, any_key())
        try:
            api.project()
        finally:
            api.close()
        assert len(one.state.world.projects.records) == 1
        assert two.state.world.projects.records == {}


def test_stop_does_not_wait_for_a_hanging_request() -> None:
    """A request hung by a fault does not keep stop() from returning."""
    sandbox = StorySandboxServer().start()
    sandbox.control.put("/faults", json=[{"path": "/capabilities", "hang": True}])
    errors: list[Exception] = []

    def hang() -> None:
        try:
            httpx.get(
                sandbox.base_url + "/capabilities",
                headers={"Authorization": f"Bearer {any_key()}"},
                timeout=30,
            )
        except httpx.HTTPError as exc:
            errors.append(exc)

    caller = threading.Thread(target=hang)
    caller.start()
    time.sleep(0.2)  # let the request reach the sandbox and hang there
    sandbox.stop()
    caller.join(30)
    assert not caller.is_alive()
    assert errors  # the hung request ended without an answer, not with a 500


def test_a_server_starts_only_once() -> None:
    """start() twice is a clear error, not a second uvicorn on the same socket."""
    with StorySandboxServer() as sandbox, pytest.raises(RuntimeError, match="starts once"):
        sandbox.start()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_runs_in_the_foreground_until_terminated() -> None:
    """serve(config, host, port) answers on the port, then exits on SIGTERM."""
    port = free_port()
    code = (
        "from bridge.sandboxes.story import StorySandboxConfig; from bridge.sandboxes.story.server import serve; "
        f"serve(StorySandboxConfig(seed=3), '127.0.0.1', {port})"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}/api/v1/capabilities"
        headers = {"Authorization": f"Bearer {any_key()}"}
        for _ in range(300):
            try:
                response = httpx.get(url, headers=headers)
                break
            except httpx.ConnectError:
                time.sleep(0.05)
        else:
            pytest.fail("serve() never answered")
        assert response.status_code == 200
        assert response.json()["version"] == "v1"
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=30)  # also closes the pipe
    # uvicorn shuts down gracefully, then re-raises the signal it captured.
    assert proc.returncode in (0, -signal.SIGTERM)
    assert b"Finished server process" in stderr
