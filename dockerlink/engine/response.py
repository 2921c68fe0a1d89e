"""`Response`: what an engine call gives back, whichever way it was sent."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["Response"]


class Response:
    """Status, headers and the whole body as bytes."""

    __slots__ = ("status", "headers", "content")

    def __init__(self, status: int, headers: Mapping[str, str], content: bytes) -> None:
        self.status = status
        self.headers = headers
        self.content = content

    def json(self) -> Any:
        return json.loads(self.content) if self.content else None
