"""`storybridge run`'s options, generated from `BridgeSettings`: one option per setting, named after
the field (`--max-in-flight`), its help the field's description plus the environment variable it
also reads. A setting added to `BridgeSettings` is an option at once, and nothing is listed twice.

Every option defaults to None, meaning "not given": the environment (and then the field's default)
decides, and a given option goes on top of it (`settings_from`).
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import typer
from pydantic import AliasChoices, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from bridge import plugins

# Flags that only switch on: `--sandbox` has no `--no-sandbox` (off is the default and the env).
ON_ONLY = frozenset({"sandbox"})


def env_name(model: type[BaseSettings], name: str, field: FieldInfo) -> str:
    """The environment variable a setting is read from (its contract name where it has one)."""
    alias = field.validation_alias
    if isinstance(alias, AliasChoices) and isinstance(alias.choices[0], str):
        return alias.choices[0]
    if isinstance(alias, str):
        return alias
    prefix = str(model.model_config.get("env_prefix") or "")
    return f"{prefix}{name}".upper()


def _option_type(annotation: Any) -> tuple[type[Any], tuple[str, ...] | None]:
    """The type the command line parses for a setting, and its choices for a Literal."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin in (types.UnionType, typing.Union) and len(args) == 1:
        return _option_type(args[0])
    if origin is Literal:
        return str, tuple(str(a) for a in typing.get_args(annotation))
    if annotation is SecretStr:
        return str, None
    if annotation in (bool, int, float, str, Path):
        return annotation, None
    return str, None  # pydantic parses the text (it validates every value anyway)


def _help(
    model: type[BaseSettings], name: str, field: FieldInfo, choices: tuple[str, ...] | None
) -> str:
    env = env_name(model, name, field)
    text = (field.description or "").strip()
    # Descriptions that open with their variable's name say it twice otherwise.
    if text.startswith(f"{env}:"):
        text = text[len(env) + 1 :].strip()
        text = text[:1].upper() + text[1:]
    text = text.replace("[", "\\[")  # rich markup would take `storybridge[otel]` for a tag
    if choices:
        text = f"{' or '.join(choices)}. {text}".strip()
    default = field.get_default(call_default_factory=True)
    shown = "" if default is None or isinstance(default, SecretStr) else f", default {default}"
    return f"{text} ({env}{shown})".strip()


CARRIER = "providers"  # BridgeSettings' field carrying the providers' options: not an option


def options(model: type[BaseSettings], prefix: str = "") -> list[inspect.Parameter]:
    """One keyword parameter with a `typer.Option` per field of `model`, in field order; with
    `prefix` (a provider's name) the parameters are `<prefix>_<field>`."""
    params = []
    for field_name, field in model.model_fields.items():
        if not prefix and field_name == CARRIER:
            continue
        name = f"{prefix}_{field_name}" if prefix else field_name
        kind, choices = _option_type(field.annotation)
        flag = "--" + name.replace("_", "-")
        if kind is bool:
            decls = [flag] if name in ON_ONLY else [f"{flag}/--no-{flag[2:]}"]
        else:
            decls = [flag]
        option = typer.Option(None, *decls, help=_help(model, field_name, field, choices))
        params.append(
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=kind | None
            )
        )
    return params


def provider_models() -> dict[str, type[BaseSettings]]:
    """The installed providers' own settings classes, by provider name."""
    found = {}
    for item in plugins.installed():
        model = getattr(item.provider, "settings_model", None)
        if model is not None:
            found[item.name] = model
    return found


def with_options(
    model: type[BaseSettings],
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a command function `model`'s options and every installed provider's (`--<provider>-
    <field>`): typer reads the generated signature, and the function receives the options given
    as keyword arguments (None: not given)."""

    def wrap(fn: Callable[..., None]) -> Callable[..., None]:
        def command(**given: Any) -> None:
            fn(**given)

        params = options(model)
        for name, own in provider_models().items():
            taken = {p.name for p in params}
            # `<provider>_<field>` could be a core setting's name (a provider `nats`, field
            # `url`): such an option is left out (its variable still sets it) rather than
            # making the whole CLI unusable.
            params += [p for p in options(own, prefix=name) if p.name not in taken]
        command.__name__, command.__doc__ = fn.__name__, fn.__doc__
        command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        return command

    return wrap


def settings_from(model: type[BaseSettings], given: dict[str, Any]) -> Any:
    """`model` from the environment, with the options given on top; a provider's options
    (`<provider>_<field>`) go to `providers[<provider>]`, which its own settings read."""
    # `<provider>_<field>` -> (provider, field, type); a core setting of the same name stays the core's
    # (`with_options` left such an option out).
    routes = {
        f"{name}_{field}": (name, field, info.annotation)
        for name, own_model in provider_models().items()
        for field, info in own_model.model_fields.items()
        if f"{name}_{field}" not in model.model_fields
    }
    own: dict[str, dict[str, Any]] = {}
    core: dict[str, Any] = {}
    for key, value in given.items():
        if value is None:
            continue
        if key not in routes:
            core[key] = value
            continue
        provider, field, annotation = routes[key]
        if SecretStr in (annotation, *typing.get_args(annotation)):
            # A token given as an option is as secret as one in the environment.
            value = SecretStr(str(value))
        own.setdefault(provider, {})[field] = value
    if own:
        core[CARRIER] = own
    return model(**core)
