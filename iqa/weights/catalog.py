"""The weights files iqa knows: where they come from and how they are verified.

Each file is verified by SHA-256 before it is used. Where the full digest is not
published, the file is verified the way torch hub does it: the hex digits after the last
``-`` in the official file name are the first digits of the file's SHA-256
(``alexnet-owt-7be5be79.pth`` → the digest starts with ``7be5be79``). Sizes are the
published ones in MiB, shown to users; a download is checked against the server's
``Content-Length`` and then the digest.
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
    size_mib: float  # published size, shown to users before a download
    used_by: str
    shapes: str  # "module:function" returning (required, optional) key -> shape
    sha256: str | None = None  # full digest where it is published

    @property
    def sha256_prefix(self) -> str:
        """The digest prefix in the official file name (torch hub's convention)."""
        match = re.search(r"-([0-9a-f]{8,})\.", self.filename)
        return match.group(1) if match else ""

    def matches(self, digest: str) -> bool:
        """Whether a file with this SHA-256 is the official file."""
        if self.sha256:
            return digest == self.sha256
        prefix = self.sha256_prefix
        return bool(prefix) and digest.startswith(prefix)

    @property
    def expected_digest(self) -> str:
        """What verification checks, for messages: the full digest or its prefix."""
        return self.sha256 or f"{self.sha256_prefix}… (prefix from the file name)"

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
            size_mib=233.1,
            used_by="lpips (net=alex, the default)",
            shapes="iqa.features.backbones:alexnet_shapes",
        ),
        KnownFile(
            name="vgg16",
            filename="vgg16-397923af.pth",
            url=_TORCHVISION + "vgg16-397923af.pth",
            size_mib=527.8,
            used_by="lpips (net=vgg)",
            shapes="iqa.features.backbones:vgg16_shapes",
        ),
        KnownFile(
            name="squeezenet1_1",
            filename="squeezenet1_1-b8a52dc0.pth",
            url=_TORCHVISION + "squeezenet1_1-b8a52dc0.pth",
            size_mib=4.7,
            used_by="lpips (net=squeeze)",
            shapes="iqa.features.backbones:squeezenet1_1_shapes",
        ),
        KnownFile(
            name="fid-inception",
            filename="pt_inception-2015-12-05-6726825d.pth",
            url="https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
            "pt_inception-2015-12-05-6726825d.pth",
            size_mib=91.2,
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
