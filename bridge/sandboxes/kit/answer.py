"""What an endpoint's behaviour returns when a plain JSON body is not enough: a status or headers
of its own. Both sandboxes answer with it (the Story sandbox only for non-200s, the Syllaby one
always, its bodies being the reference's envelope)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Answer:
    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
