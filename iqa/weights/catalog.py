"""The weights files iqa knows: where they come from and how they are verified.

Each entry pins the official file's size in bytes and its full SHA-256 (both public, and
the same in several independent manifests). A file is the official one only if both
match. The 8 hex digits in the official file name (``alexnet-owt-7be5be79.pth``, torch
hub's convention) are *not* enough: they are 32 bits, and a file with a matching prefix
can be found in minutes; they are kept only to show that the name and the pinned digest
agree. A download is refused as soon as the server announces or sends a length other than
the pinned size, before the body is hashed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module

from iqa.errors import UsageError

Shapes = dict[str, tuple[int, ...]]


@dataclass(frozen=True)
class KnownFile:
    """One weights file: name used on the command line, file name, origin, digest."""

    name: str
    filename: str
    url: str
    size: int  # bytes of the official file
    sha256: str  # full hex SHA-256 of the official file
    used_by: str
    shapes: str  # "module:function" returning (required, optional) key -> shape

    @property
    def size_mib(self) -> float:
        """The official size in MiB (one decimal), shown to users before a download."""
        return round(self.size / 2**20, 1)

    @property
    def sha256_prefix(self) -> str:
        """The digest prefix in the official file name (torch hub's convention).

        Shown for reference only; verification compares the full :attr:`sha256`.
        """
        match = re.search(r"-([0-9a-f]{8,})\.", self.filename)
        return match.group(1) if match else ""

    def matches(self, digest: str) -> bool:
        """Whether a file with this full SHA-256 is the official file."""
        return digest == self.sha256

    @property
    def expected_digest(self) -> str:
        """What verification checks, for messages."""
        return self.sha256

    def expected_shapes(self) -> tuple[Shapes, Shapes]:
        """(required, optional) state-dict keys and shapes of the architecture."""
        module, _, function = self.shapes.partition(":")
        fn: Callable[[], tuple[Shapes, Shapes]] = getattr(import_module(module), function)
        return fn()


_TORCHVISION = "https://download.pytorch.org/models/"

KNOWN: dict[str, KnownFile] = {
    f.name: f
    for f in (
        KnownFile(
            name="alexnet",
            filename="alexnet-owt-7be5be79.pth",
            url=_TORCHVISION + "alexnet-owt-7be5be79.pth",
            size=244_408_911,
            sha256="7be5be791159472b1fbf3c69796f7cb30dca7ad8466c2df70058c37116cdee02",
            used_by="lpips (net=alex, the default)",
            shapes="iqa.features.backbones:alexnet_shapes",
        ),
        KnownFile(
            name="vgg16",
            filename="vgg16-397923af.pth",
            url=_TORCHVISION + "vgg16-397923af.pth",
            size=553_433_881,
            sha256="397923af8e79cdbb6a7127f12361acd7a2f83e06b05044ddf496e83de57a5bf0",
            used_by="lpips (net=vgg)",
            shapes="iqa.features.backbones:vgg16_shapes",
        ),
        KnownFile(
            name="squeezenet1_1",
            filename="squeezenet1_1-b8a52dc0.pth",
            url=_TORCHVISION + "squeezenet1_1-b8a52dc0.pth",
            size=4_958_839,
            sha256="b8a52dc049b60e4b6ab68ad0df457362afab8b6304b2febdc1650a5dab4d7e7b",
            used_by="lpips (net=squeeze)",
            shapes="iqa.features.backbones:squeezenet1_1_shapes",
        ),
        KnownFile(
            name="fid-inception",
            filename="pt_inception-2015-12-05-6726825d.pth",
            url="https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
            "pt_inception-2015-12-05-6726825d.pth",
            size=95_628_359,
            sha256="6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2",
            used_by="fid, kid (Inception-v3 pool3, TF 2015-12-05 graph as ported by pytorch-fid)",
            shapes="iqa.features.inception:expected_shapes",
        ),
    )
}


def known(name: str) -> KnownFile:
    """The catalog entry ``name``, or a usage error listing the names."""
    entry = KNOWN.get(name)
    if entry is None:
        raise UsageError(f"unknown weights {name!r}; known: {', '.join(KNOWN)}")
    return entry
