"""Opaque per-study image keys, so that a URL does not reveal which method made an image."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from crn.errors import UserError
from crn.imageset import ImageSet

KEY_HEX_CHARS = 32


def image_key(secret: bytes, study_id: str, set_name: str, image_id: str) -> str:
    """The opaque URL key of one image: a truncated HMAC of study, set name and image id."""
    message = f"img\0{study_id}\0{set_name}\0{image_id}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:KEY_HEX_CHARS]


@dataclass(frozen=True)
class ImageIndex:
    """Both directions between (set name, image id) and URL key; only listed files are served."""

    paths: Mapping[str, Path]
    keys: Mapping[tuple[str, str], str]

    @classmethod
    def build(cls, study_id: str, sets: Mapping[str, ImageSet], secret: bytes) -> ImageIndex:
        """Index every image listed in the study's image sets; files must lie inside their set."""
        paths: dict[str, Path] = {}
        keys: dict[tuple[str, str], str] = {}
        outside: list[str] = []
        for name, imageset in sets.items():
            root = imageset.root.resolve()
            for image_id in imageset.ids:
                # A symlink may point anywhere; only files really inside the set folder are served.
                path = imageset.path(image_id).resolve()
                if not path.is_relative_to(root):
                    outside.append(f"{name}/{image_id} ({path})")
                    continue
                key = image_key(secret, study_id, name, image_id)
                paths[key] = path
                keys[(name, image_id)] = key
        if outside:
            raise UserError(
                "image files outside their set folder (symlinks?) are not served: "
                + ", ".join(outside[:5])
                + (f" and {len(outside) - 5} more" if len(outside) > 5 else "")
            )
        return cls(paths=MappingProxyType(paths), keys=MappingProxyType(keys))

    def url(self, set_name: str, image_id: str) -> str:
        """The image's URL relative to the app root ("img/<key>"), so a URL prefix keeps working."""
        return f"img/{self.keys[(set_name, image_id)]}"
