"""The weights files iqa knows: where they come from and how they are verified.

Each entry pins the official file's size in bytes and its full SHA-256 (both public, and
the same in several independent manifests). A file is the official one only if both
match. The 8 hex digits in the official file name (``alexnet-owt-7be5be79.pth``, torch
hub's convention) are *not* enough: they are 32 bits, and a file with a matching prefix
can be found in minutes; they are kept only to show that the name and the pinned digest
agree. A download is refused as soon as the server announces or sends a length other than
the pinned size, before the body is hashed.

Where no independent source gives a file's size, :attr:`KnownFile.size` is ``None`` and
the catalog says so (``iqa weights list`` shows "size unknown"): the full SHA-256 alone
decides whether the file is official, and a download of it is capped at
:data:`UNKNOWN_SIZE_CAP` bytes. An entry is never given a size or digest that was not
published.

``format`` says how the file is read: ``"state_dict"`` (``torch.save`` of a state dict,
read with ``weights_only=True``) or ``"torchscript"`` (OpenAI's CLIP archives, read by
:mod:`iqa.weights._torchscript` without running them; only the tensors under
``keep_prefix`` are kept).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module

from iqa.errors import UsageError

Shapes = dict[str, tuple[int, ...]]
#: The most bytes a download of a file of unknown size may bring (2 GiB).
UNKNOWN_SIZE_CAP = 2 * 2**30


@dataclass(frozen=True)
class KnownFile:
    """One weights file: name used on the command line, file name, origin, digest."""

    name: str
    filename: str
    url: str
    size: int | None  # bytes of the official file; None: not published (see above)
    sha256: str  # full hex SHA-256 of the official file
    used_by: str
    shapes: str  # "module:function" returning (required, optional) key -> shape
    format: str = "state_dict"  # or "torchscript"
    keep_prefix: str = ""  # torchscript: the tensors kept (e.g. "visual.")
    digest_source: str = ""  # where the digest and size were learned, for the README

    @property
    def size_mib(self) -> float | None:
        """The official size in MiB (one decimal), shown to users before a download."""
        return None if self.size is None else round(self.size / 2**20, 1)

    @property
    def size_text(self) -> str:
        """The size for messages: "337.6 MiB" or "size unknown"."""
        return "size unknown" if self.size is None else f"{self.size_mib:g} MiB"

    def size_ok(self, size: int) -> bool:
        """Whether a file of ``size`` bytes may be the official one."""
        return size == self.size if self.size is not None else 0 < size <= UNKNOWN_SIZE_CAP

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
_OPENAI_CLIP = "https://openaipublic.azureedge.net/clip/models/"

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
        # OpenAI's CLIP archives: the URL path is the file's full SHA-256 (openai/CLIP
        # clip/clip.py _MODELS, checked by its _download; the same URLs in torch-fidelity
        # and scenic). Sizes: Git LFS pointers of independent re-uploads of the same digest.
        KnownFile(
            name="clip-vit-b-32",
            filename="ViT-B-32.pt",
            url=_OPENAI_CLIP + "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af/"
            "ViT-B-32.pt",
            size=353_976_522,
            sha256="40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af",
            used_by="--features clip-vit-b-32 (CLIP-FID: clean-fid clip_vit_b_32, "
            "torch-fidelity clip-vit-b-32)",
            shapes="iqa.features.clip_openai:vit_b_32_shapes",
            format="torchscript",
            keep_prefix="visual.",
        ),
        KnownFile(
            name="clip-vit-l-14-336",
            filename="ViT-L-14-336px.pt",
            url=_OPENAI_CLIP + "3035c92b350959924f9f00213499208652fc7ea050643e8b385c2dac08641f02/"
            "ViT-L-14-336px.pt",
            size=None,  # not published where it could be checked: the digest decides
            sha256="3035c92b350959924f9f00213499208652fc7ea050643e8b385c2dac08641f02",
            used_by="cmmd, --features clip-vit-l-14-336 (google-research cmmd, via scenic's "
            "CLIP loader)",
            shapes="iqa.features.clip_openai:vit_l_14_336_shapes",
            format="torchscript",
            keep_prefix="visual.",
        ),
        # DINOv2 ViT-L/14 backbone as facebookresearch/dinov2's hubconf loads it. Meta
        # publishes no digest; size and SHA-256 agree across several independent Git LFS
        # re-uploads of the file.
        KnownFile(
            name="dinov2-vit-l-14",
            filename="dinov2_vitl14_pretrain.pth",
            url="https://dl.fbaipublicfiles.com/dinov2/dinov2_vitl14/dinov2_vitl14_pretrain.pth",
            size=1_217_586_395,
            sha256="d5383ea8f4877b2472eb973e0fd72d557c7da5d3611bd527ceeb1d7162cbf428",
            used_by="--features dinov2-vit-l-14 (FD-DINOv2: dgm-eval, EDM2)",
            shapes="iqa.features.dinov2_vit_l_14:expected_shapes",
        ),
    )
}


def known(name: str) -> KnownFile:
    """The catalog entry ``name``, or a usage error listing the names."""
    entry = KNOWN.get(name)
    if entry is None:
        raise UsageError(f"unknown weights {name!r}; known: {', '.join(KNOWN)}")
    return entry
