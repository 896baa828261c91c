"""Providers as plugins: what the core needs of one upstream API, and how the installed ones are found.

A provider is one object registered under the entry point group `storybridge.providers` (CONTRACT.md,
"Providers"); Story and Syllaby register in this project's pyproject.toml exactly as a third one
registers in its own distribution (docs/PROVIDERS.md). The core iterates over what is installed and
names no provider.

This module imports nothing of the project's, so every room may use it (the watch commands check
their `provider` against it) without an import loop; the types the core hands a provider are
therefore described here in words and structurally, not imported.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Protocol, TypeVar, runtime_checkable

ENTRY_POINT_GROUP = "storybridge.providers"


class ProviderError(RuntimeError):
    """An installed provider cannot be used: it does not load, or two claim one name or command."""


@dataclass(frozen=True)
class Shared:
    """What the core hands every provider it starts."""

    settings: (
        Any  # bridge.config.BridgeSettings: the run's settings (a provider may read its own too)
    )
    # A new `bridge.http.circuit.Circuit` named for the provider, on the core's circuit board (so it
    # holds the provider's durable commands, pauses its polls and is reported like every other).
    circuit: Callable[[str], Any]
    sandbox_speed: float  # the clock speed the bundled sandboxes run at under --sandbox
    on_rate_wait: Callable[..., None] | None = None  # metrics hooks for the transport
    on_request: Callable[..., None] | None = None


@dataclass(frozen=True)
class Attached:
    """What a started provider may use once NATS and the watch engine are up (Story's credits
    monitor publishes `credits.low` through these)."""

    settings: Any  # bridge.config.BridgeSettings
    js: Any  # nats.js.client.JetStreamContext
    kv: Any  # the watch bucket
    subjects: Any  # bridge.names.Subjects
    metrics: Any


class Service(Protocol):
    async def stop(self) -> None: ...


@dataclass
class Running:
    """A started provider: its client over the shared transport, its circuit, its watch provider
    (`bridge.watch.provider.Provider`) and whatever it brought up (sandbox, background services)."""

    name: str
    client: Any  # a bridge.http.transport.TransportClient: probe(), aclose(), key, budget
    circuit: Any
    watch: Any
    base_url: str
    sandbox: Any = None  # stop(): a bundled sandbox this run started
    credits: Any = None  # an object with `.balance` (admin.status shows it), when the API has one
    services: list[Service] = field(default_factory=list)

    async def stop_services(self) -> None:
        for service in self.services:
            await service.stop()

    async def close(self) -> None:
        await self.client.aclose()
        if self.sandbox is not None:
            self.sandbox.stop()


class WatchTargets(Protocol):
    """What `watch.add` / `watch.remove` need for one provider's resources (handlers/watches.py)."""

    resources: frozenset[str]
    integer_ids: bool  # its ids are integers (either spelling is accepted on the wire)

    async def existing(self, cmd: Any, ctx: Any, ids: list[str]) -> set[str]:
        """Which of `ids` exist (a single id that does not raises the API's not-found error)."""
        ...

    def missing(self, cmd: Any, ids: list[str]) -> Exception:
        """The not-found error for a `watch.add` none of whose ids exist."""
        ...

    async def start(self, cmd: Any, ctx: Any, id: str) -> None: ...

    def describe(self, cmd: Any) -> dict[str, Any]:
        """What a watch.add/watch.remove reply says it is about (beside `watching`)."""
        ...


@dataclass(frozen=True)
class Channels:
    """The provider's event subjects for the AsyncAPI document: `{p}.evt.<base>.<status>` for each
    base and status, plus `<base>.*` channels for bases whose API may report statuses not listed."""

    subjects: Mapping[str, tuple[str, ...]]
    event_type: Callable[[str], str]  # the CloudEvent type published on `{p}.evt.<suffix>`
    events: tuple[str, ...] = ()  # subjects with no status table (e.g. Story's artifact.revised)
    open_bases: tuple[str, ...] = ()
    open_description: str = ""


@dataclass(frozen=True)
class SandboxOptions:
    """`storybridge sandbox`'s options, for the provider whose sandbox it serves alone."""

    host: str
    port: int
    speed: float
    # None: not given (the sandbox's own default), so a sandbox can refuse what it cannot take.
    rate_limit: int | None  # requests per minute per key
    credits: int | None
    seed: int | None
    faults: list[dict[str, Any]]
    scopes: str | None  # comma-separated: what any accepted key may do; None: every scope
    keys: tuple[str, ...]  # `KEY` or `KEY=scope,scope`: only these are accepted, unless...
    accept_any_key: bool | None  # ...this says so (None: any key unless some are listed)


@dataclass(frozen=True)
class SandboxAlone:
    """A provider's sandbox, configured and ready to serve in the foreground. Building one raises
    ValueError for an option it cannot take, so the command answers before it serves."""

    banner: str  # where it listens and what it accepts (never a key's secret)
    serve: Callable[[], None]


class DemoSession(Protocol):
    """What a demo walk drives (`storybridge demo`): commands over request/reply, printed, and
    waits for the events they cause, printed as they come."""

    async def command(self, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send `name` and return its outcome's `result`; an ok:false outcome raises RuntimeError."""
        ...

    async def event(self, suffix: str, resource_id: str) -> dict[str, Any]:
        """The event on `{p}.evt.<suffix>` about `resource_id` (already seen, or the next)."""
        ...


@dataclass(frozen=True)
class Demo:
    """A provider's happy path for `storybridge demo --provider <name>`."""

    what: str  # the sandbox it walks, for the banner
    final: str  # what the URL the walk returns points at
    walk: Callable[[DemoSession], Awaitable[str]]


@runtime_checkable
class Provider(Protocol):
    """One upstream API, as the core sees it (docs/PROVIDERS.md walks through each member)."""

    name: str  # the first token of its watch keys, circuit and ledger entries
    required: bool  # a run without it refuses to start (Story: the contract's SLEEPERHIT_API_KEY)
    enable_hint: str  # what turns it on, for the "provider is off" answer
    # Command name -> handler row (handlers.base.CommandHandler: `.model`, `.endpoint` (the API
    # call it declares, or None), awaitable with (cmd, ctx)): each command's one declaration.
    commands: Mapping[str, Any]
    watch_targets: WatchTargets | None
    # bridge.ledger.Reconciler for its commands whose rows declare "ledger"; None when its API takes
    # Idempotency-Keys.
    reconciler: Any
    # Optional (read with getattr): `settings_model`, a pydantic-settings class of the provider's
    # own settings under its own env prefix; `storybridge run` offers each field as
    # `--<name>-<field>` and `own_settings` builds it for a run. `sandbox_alone(options:
    # SandboxOptions) -> SandboxAlone`, what `storybridge sandbox --provider <name>` serves.
    # `demo`, a `Demo`: what `storybridge demo --provider <name>` walks.
    channels: Channels

    def disabled_reason(self, settings: Any) -> str | None:
        """None when the run should start it; else why not (raises SystemExit when a setting it
        needs contradicts another, naming both)."""
        ...

    async def start(self, shared: Shared) -> Running: ...

    async def attach(self, running: Running, attached: Attached) -> None:
        """Once NATS and the watch engine are up (most providers do nothing here)."""
        ...


@dataclass(frozen=True)
class Installed:
    """One registered provider and where it came from."""

    name: str
    provider: Provider
    entry_point: str  # `module:attribute`
    distribution: str  # `name version`, or "?" for an entry point without one


@dataclass(frozen=True)
class Failed:
    """A registered provider that could not be loaded."""

    name: str
    entry_point: str
    distribution: str
    reason: str


_lock = threading.RLock()
_installed: tuple[tuple[Installed, ...], tuple[Failed, ...]] | None = None
_generation = 0


def _distribution(point: EntryPoint) -> str:
    dist = point.dist
    return f"{dist.metadata['Name']} {dist.version}" if dist is not None else "?"


def _load() -> tuple[tuple[Installed, ...], tuple[Failed, ...]]:
    found: dict[str, Installed] = {}
    failures: list[Failed] = []
    for point in entry_points(group=ENTRY_POINT_GROUP):
        known = found.get(point.name)
        # An editable install is seen twice (site-packages and the source tree's egg-info).
        if known is not None and known.entry_point == point.value:
            continue
        if known is not None:
            raise ProviderError(
                f"two providers are named {point.name!r}: {known.entry_point} "
                f"({known.distribution}) and {point.value} ({_distribution(point)})"
            )
        try:
            provider = point.load()
        except Exception as err:
            # One broken distribution must not take the CLI and every other provider down with
            # it: it is listed as failed (`storybridge providers`, run's start log) and left out.
            failures.append(
                Failed(point.name, point.value, _distribution(point), f"failed to load: {err!r}")
            )
            continue
        if not isinstance(provider, Provider) or provider.name != point.name:
            failures.append(
                Failed(
                    point.name,
                    point.value,
                    _distribution(point),
                    f"is not a Provider named {point.name!r}",
                )
            )
            continue
        found[point.name] = Installed(point.name, provider, point.value, _distribution(point))
    commands: dict[str, str] = {}
    for item in found.values():
        for command in item.provider.commands:
            if command in commands:
                raise ProviderError(
                    f"command {command!r} is claimed by {commands[command]!r} and {item.name!r}"
                )
            commands[command] = item.name
    return tuple(sorted(found.values(), key=lambda item: item.name)), tuple(failures)


def installed() -> tuple[Installed, ...]:
    """Every registered provider that loaded, by name; loaded once (see `reload`)."""
    return _loaded()[0]


def failed() -> tuple[Failed, ...]:
    """The registered providers that could not be loaded, and why."""
    return _loaded()[1]


def _loaded() -> tuple[tuple[Installed, ...], tuple[Failed, ...]]:
    global _installed
    with _lock:
        if _installed is None:
            _installed = _load()
        return _installed


def reload() -> None:
    """Forget what was loaded: the next look-up reads the entry points again (tests that put a
    provider's distribution on sys.path call it; a running bridge never does)."""
    global _installed, _generation
    with _lock:
        _installed = None
        _generation += 1


def generation() -> int:
    """Changes with every `reload`, so caches built from the providers can key on it."""
    return _generation


def providers() -> dict[str, Provider]:
    return {item.name: item.provider for item in installed()}


def provider(name: str) -> Provider | None:
    return providers().get(name)


def owner(command: str) -> str | None:
    """The provider whose command table holds `command` (None: a command of the core's own)."""
    for item in installed():
        if command in item.provider.commands:
            return item.name
    return None


def own_settings(provider: Any, settings: Any) -> Any:
    """A provider's own settings (its `settings_model`, a pydantic-settings class with its own env
    prefix), with the options given for it in this run on top (`settings.providers[name]`); None
    for a provider without one."""
    model = getattr(provider, "settings_model", None)
    if model is None:
        return None
    given = (getattr(settings, "providers", None) or {}).get(provider.name, {})
    return model(**given)


V = TypeVar("V")


class Table(Mapping[str, V]):
    """A read-only table built from the installed providers on first use (never at import, so a
    provider's modules may import the modules that hold such tables), rebuilt after `reload`."""

    def __init__(self, build: Callable[[], dict[str, V]]) -> None:
        self._build = build
        self._built: tuple[int, dict[str, V]] | None = None

    def _data(self) -> dict[str, V]:
        built = self._built
        if built is None or built[0] != _generation:
            built = (_generation, self._build())
            self._built = built
        return built[1]

    def __getitem__(self, key: str) -> V:
        return self._data()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data())

    def __len__(self) -> int:
        return len(self._data())

    def __repr__(self) -> str:
        return f"Table({self._data()!r})"
