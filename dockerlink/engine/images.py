"""Image endpoints: inspect."""

from __future__ import annotations

from .models import ImageInfo
from .refs import check_image_ref
from .transport import Transport

__all__ = ["Images"]


class Images:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def inspect(self, ref: str) -> ImageInfo:
        # A reference holds `/` between its components: each one is its own path segment.
        segments = ["images", *check_image_ref(ref).split("/"), "json"]
        return ImageInfo.from_api(self._t.request("GET", segments).json())
