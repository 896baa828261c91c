"""Ids are values, never paths: the two checks that keep an id in its own path segment.

`seg` encodes one id as one segment and refuses the ids no encoding can keep there (`.` and `..`
are unreserved characters, so percent-encoding leaves them as they are, and every URL library,
httpx included, then resolves them as "this" and "the parent" segment). `check_path` is the
defence in depth the transport applies to every request: the final path, as it will be sent, must
still be the route's template with exactly one segment per placeholder. A future route, or an id
rule loosened by mistake, then fails loudly instead of reaching another endpoint.
"""

from __future__ import annotations

import string
from urllib.parse import quote, unquote

from bridge.http.errors import RequestValidationError

DOT_SEGMENTS = frozenset({".", ".."})


def seg(value: object) -> str:
    """One path segment, percent-encoded: an id can never reach another path."""
    text = str(value)
    if not text:
        raise RequestValidationError("an id path parameter must not be empty", field="id")
    if text in DOT_SEGMENTS:
        raise RequestValidationError(f"{text!r} is not an id", field="id")
    try:
        return quote(text, safe="")
    except UnicodeEncodeError:  # a lone surrogate: no URL can carry it
        raise RequestValidationError("an id must be text (UTF-8)", field="id") from None


def _dotted(segment: str) -> bool:
    """Whether a raw segment is, or decodes to something holding, a `.` or `..` segment (a
    server that decodes `%2F` before routing would resolve `..%2Fx`)."""
    return any(part in DOT_SEGMENTS for part in unquote(segment).split("/"))


def _segments(path: str) -> list[str]:
    return path.strip("/").split("/") if path.strip("/") else []


def _placeholder(part: str) -> bool:
    parsed = list(string.Formatter().parse(part))
    return len(parsed) == 1 and parsed[0][0] == "" and parsed[0][1] is not None


def check_path(
    final_path: str, base_path: str, template: str | None, *, given: str | None = None
) -> None:
    """Refuse a request whose path left its place.

    `final_path` is the raw path the request will carry (no query), `base_path` the client's base
    URL path it must stay under, `template` the route's relative path (`story-jobs/{job_id}/cancel`)
    when the request comes from a declared route, `given` the path as the caller wrote it (its dot
    segments are gone from `final_path` once resolved). Raises `RequestValidationError`.
    """
    if given is not None:
        if template is not None and ("?" in given or "#" in given):
            # A route's query travels as parameters; one in the path came from an id.
            raise RequestValidationError(f"request path {given!r} carries a query", field="id")
        written = given.split("?", 1)[0].split("#", 1)[0]
        if any(_dotted(part) for part in written.split("/")):
            raise RequestValidationError(f"request path {given!r} has a dot segment", field="id")
    if not final_path.startswith(base_path.rstrip("/") + "/") and final_path != base_path:
        raise RequestValidationError(
            f"request path {final_path!r} left the API's base path {base_path!r}", field="id"
        )
    rest = _segments(final_path[len(base_path.rstrip("/")) :])
    for part in rest:
        if _dotted(part) or part == "":
            raise RequestValidationError(
                f"request path {final_path!r} has a dot or empty segment", field="id"
            )
    if template is None:
        return
    expected = _segments(template)
    if len(expected) != len(rest) or any(
        not _placeholder(want) and want != got for want, got in zip(expected, rest, strict=True)
    ):
        raise RequestValidationError(
            f"request path {final_path!r} does not match its route {template!r}", field="id"
        )
