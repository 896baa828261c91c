"""multipart/form-data bodies (POST /prompt attaches reference images this way), PHP-style.

Field names use brackets as PHP reads them: `duration[min]`, `context[0][key]`, `references[]`.
A file part's value is its filename (the sandbox keeps no images). Parsed with the standard
library's MIME parser, so the sandbox needs no multipart dependency. Unreadable input is an empty
form, which validation then answers field by field.
"""

from __future__ import annotations

import re
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

_KEY = re.compile(r"\[([^\]]*)\]")


def _path(name: str) -> list[str]:
    head, _, rest = name.partition("[")
    return [head, *_KEY.findall("[" + rest)] if rest else [head]


def _put(form: dict[str, Any], path: list[str], value: str) -> None:
    node: Any = form
    for index, key in enumerate(path):
        last = index == len(path) - 1
        if key == "":  # `references[]`: append
            key = str(len(node))
        if last:
            node[key] = value
        else:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                return


def _lists(node: Any) -> Any:
    """Dicts keyed 0..n-1 become lists, as PHP arrays read through Laravel's rules."""
    if not isinstance(node, dict):
        return node
    node = {k: _lists(v) for k, v in node.items()}
    if node and all(k.isdigit() for k in node):
        return [node[k] for k in sorted(node, key=int)]
    return node


def parse(content_type: str, raw: bytes) -> dict[str, Any]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=policy.HTTP).parsebytes(head + raw)
    if not isinstance(message, EmailMessage) or not message.is_multipart():
        return {}
    form: dict[str, Any] = {}
    for part in message.iter_parts():
        if not isinstance(part, EmailMessage):
            continue
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or not name:
            continue
        filename = part.get_filename()
        if filename is not None:
            value = filename
        else:
            payload = part.get_payload(decode=True)
            value = payload.decode(errors="replace") if isinstance(payload, bytes) else ""
        _put(form, _path(name), value)
    result = _lists(form)
    return result if isinstance(result, dict) else {}
