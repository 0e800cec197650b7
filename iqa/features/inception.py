"""The FID Inception-v3: pool3 features (2048-d) of the TensorFlow "2015-12-05" graph.

This is the network every standard FID implementation uses (TTUR, pytorch-fid,
torch-fidelity, clean-fid), in the form pytorch-fid ported it: torchvision's Inception-v3
blocks with the FID-specific changes

* average pooling in the A, C and first E blocks does not count the zero padding
  (TensorFlow's ``AVG_POOL`` with ``SAME`` padding);
* the last E block (``Mixed_7c``) uses max pooling in its pool branch;
* the logits layer has 1008 classes (not used for FID or KID).

Weights are a state dict in pytorch-fid's key layout (``Conv2d_1a_3x3.conv.weight``,
``Mixed_5b.branch1x1.bn.running_mean``, ..., ``fc.weight``). Every convolution is
followed by batch norm (eps = 0.001) and ReLU; the batch norm is folded into the
convolution once, when the network is built (w' = w·γ/√(σ²+ε), b' = β − μ·γ/√(σ²+ε)).
1×1 convolutions that read the same input are run as one convolution, and the 1×1
convolution after an average pool is moved before it (both are linear, and the pool
averages only real pixels, so a constant bias passes through unchanged). These changes
move the pool3 features by about 1e-6 relative (tested against pytorch-fid's
``InceptionV3`` on the real weights), far below the 1e-4 this package allows. On CPU the
network runs channels-last; on CUDA, float32 convolutions run without TF32.

The network is implemented with ``torch.nn.functional`` calls on the folded tensors, so
this module imports torch only inside functions; :func:`build_inception` returns a
callable that is built once per run and reused for every batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

#: Dimension of the pool3 features.
FEATURE_DIM = 2048
#: Name of the network and layer, part of every statistics cache key.
NETWORK_ID = "inception-v3-fid-2015-12-05:pool3"
_BN_EPS = 0.001

# (name, in, out, kernel (h, w), stride, padding (h, w)) for every BasicConv2d.
ConvSpec = tuple[str, int, int, tuple[int, int], int, tuple[int, int]]


def _k(n: int) -> tuple[int, int]:
    return (n, n)


def _block_a(name: str, cin: int, pool: int) -> list[ConvSpec]:
    return [
        (f"{name}.branch1x1", cin, 64, _k(1), 1, _k(0)),
        (f"{name}.branch5x5_1", cin, 48, _k(1), 1, _k(0)),
        (f"{name}.branch5x5_2", 48, 64, _k(5), 1, _k(2)),
        (f"{name}.branch3x3dbl_1", cin, 64, _k(1), 1, _k(0)),
        (f"{name}.branch3x3dbl_2", 64, 96, _k(3), 1, _k(1)),
        (f"{name}.branch3x3dbl_3", 96, 96, _k(3), 1, _k(1)),
        (f"{name}.branch_pool", cin, pool, _k(1), 1, _k(0)),
    ]


def _block_b(name: str, cin: int) -> list[ConvSpec]:
    return [
        (f"{name}.branch3x3", cin, 384, _k(3), 2, _k(0)),
        (f"{name}.branch3x3dbl_1", cin, 64, _k(1), 1, _k(0)),
        (f"{name}.branch3x3dbl_2", 64, 96, _k(3), 1, _k(1)),
        (f"{name}.branch3x3dbl_3", 96, 96, _k(3), 2, _k(0)),
    ]


def _block_c(name: str, cin: int, c7: int) -> list[ConvSpec]:
    row, col = ((1, 7), (0, 3)), ((7, 1), (3, 0))
    return [
        (f"{name}.branch1x1", cin, 192, _k(1), 1, _k(0)),
        (f"{name}.branch7x7_1", cin, c7, _k(1), 1, _k(0)),
        (f"{name}.branch7x7_2", c7, c7, row[0], 1, row[1]),
        (f"{name}.branch7x7_3", c7, 192, col[0], 1, col[1]),
        (f"{name}.branch7x7dbl_1", cin, c7, _k(1), 1, _k(0)),
        (f"{name}.branch7x7dbl_2", c7, c7, col[0], 1, col[1]),
        (f"{name}.branch7x7dbl_3", c7, c7, row[0], 1, row[1]),
        (f"{name}.branch7x7dbl_4", c7, c7, col[0], 1, col[1]),
        (f"{name}.branch7x7dbl_5", c7, 192, row[0], 1, row[1]),
        (f"{name}.branch_pool", cin, 192, _k(1), 1, _k(0)),
    ]


def _block_d(name: str, cin: int) -> list[ConvSpec]:
    return [
        (f"{name}.branch3x3_1", cin, 192, _k(1), 1, _k(0)),
        (f"{name}.branch3x3_2", 192, 320, _k(3), 2, _k(0)),
        (f"{name}.branch7x7x3_1", cin, 192, _k(1), 1, _k(0)),
        (f"{name}.branch7x7x3_2", 192, 192, (1, 7), 1, (0, 3)),
        (f"{name}.branch7x7x3_3", 192, 192, (7, 1), 1, (3, 0)),
        (f"{name}.branch7x7x3_4", 192, 192, _k(3), 2, _k(0)),
    ]


def _block_e(name: str, cin: int) -> list[ConvSpec]:
    return [
        (f"{name}.branch1x1", cin, 320, _k(1), 1, _k(0)),
        (f"{name}.branch3x3_1", cin, 384, _k(1), 1, _k(0)),
        (f"{name}.branch3x3_2a", 384, 384, (1, 3), 1, (0, 1)),
        (f"{name}.branch3x3_2b", 384, 384, (3, 1), 1, (1, 0)),
        (f"{name}.branch3x3dbl_1", cin, 448, _k(1), 1, _k(0)),
        (f"{name}.branch3x3dbl_2", 448, 384, _k(3), 1, _k(1)),
        (f"{name}.branch3x3dbl_3a", 384, 384, (1, 3), 1, (0, 1)),
        (f"{name}.branch3x3dbl_3b", 384, 384, (3, 1), 1, (1, 0)),
        (f"{name}.branch_pool", cin, 192, _k(1), 1, _k(0)),
    ]


def conv_specs() -> list[ConvSpec]:
    """Every convolution of the network, in order, with its shape."""
    return [
        ("Conv2d_1a_3x3", 3, 32, _k(3), 2, _k(0)),
        ("Conv2d_2a_3x3", 32, 32, _k(3), 1, _k(0)),
        ("Conv2d_2b_3x3", 32, 64, _k(3), 1, _k(1)),
        ("Conv2d_3b_1x1", 64, 80, _k(1), 1, _k(0)),
        ("Conv2d_4a_3x3", 80, 192, _k(3), 1, _k(0)),
        *_block_a("Mixed_5b", 192, 32),
        *_block_a("Mixed_5c", 256, 64),
        *_block_a("Mixed_5d", 288, 64),
        *_block_b("Mixed_6a", 288),
        *_block_c("Mixed_6b", 768, 128),
        *_block_c("Mixed_6c", 768, 160),
        *_block_c("Mixed_6d", 768, 160),
        *_block_c("Mixed_6e", 768, 192),
        *_block_d("Mixed_7a", 768),
        *_block_e("Mixed_7b", 1280),
        *_block_e("Mixed_7c", FEATURE_DIM),
    ]


def expected_shapes() -> tuple[dict[str, tuple[int, ...]], dict[str, tuple[int, ...]]]:
    """(required, optional) state-dict keys with their shapes, pytorch-fid's layout.

    ``num_batches_tracked`` counters and the logits layer (``fc``) are optional: pool3
    features do not use them.
    """
    required: dict[str, tuple[int, ...]] = {}
    optional: dict[str, tuple[int, ...]] = {"fc.weight": (1008, FEATURE_DIM), "fc.bias": (1008,)}
    for name, cin, cout, (kh, kw), _, _ in conv_specs():
        required[f"{name}.conv.weight"] = (cout, cin, kh, kw)
        for part in ("weight", "bias", "running_mean", "running_var"):
            required[f"{name}.bn.{part}"] = (cout,)
        optional[f"{name}.bn.num_batches_tracked"] = ()
    return required, optional


@dataclass(frozen=True)
class _Conv:
    weight: Any  # torch.Tensor, batch norm folded in
    bias: Any
    stride: int
    padding: tuple[int, int]


def fold_batch_norm(state: Mapping[str, Any]) -> dict[str, _Conv]:
    """Fold each batch norm into its convolution, in float64, stored as float32."""
    folded = {}
    for name, _, _, _, stride, padding in conv_specs():
        w = state[f"{name}.conv.weight"].double()
        gamma = state[f"{name}.bn.weight"].double()
        beta = state[f"{name}.bn.bias"].double()
        mean = state[f"{name}.bn.running_mean"].double()
        var = state[f"{name}.bn.running_var"].double()
        scale = gamma / (var + _BN_EPS).sqrt()
        folded[name] = _Conv(
            weight=(w * scale[:, None, None, None]).float(),
            bias=(beta - mean * scale).float(),
            stride=stride,
            padding=padding,
        )
    return folded


# 1x1 convolutions of one block that read the block's input: run as one convolution.
# The last entry of a group marked "pool" is the pool branch (average pool moved after it).
_HEADS = {
    "A": ("branch1x1", "branch5x5_1", "branch3x3dbl_1", "branch_pool"),
    "C": ("branch1x1", "branch7x7_1", "branch7x7dbl_1", "branch_pool"),
    "D": ("branch3x3_1", "branch7x7x3_1"),
    "E1": ("branch1x1", "branch3x3_1", "branch3x3dbl_1", "branch_pool"),
    "E2": ("branch1x1", "branch3x3_1", "branch3x3dbl_1"),
}
_BLOCKS = (
    ("Mixed_5b", "A"), ("Mixed_5c", "A"), ("Mixed_5d", "A"), ("Mixed_6a", "B"),
    ("Mixed_6b", "C"), ("Mixed_6c", "C"), ("Mixed_6d", "C"), ("Mixed_6e", "C"),
    ("Mixed_7a", "D"), ("Mixed_7b", "E1"), ("Mixed_7c", "E2"),
)


def _merge_heads(convs: dict[str, _Conv]) -> dict[str, tuple[_Conv, list[int]]]:
    import torch

    heads = {}
    for block, kind in _BLOCKS:
        parts = [convs[f"{block}.{b}"] for b in _HEADS.get(kind, ())]
        if parts:
            merged = _Conv(
                weight=torch.cat([p.weight for p in parts]).contiguous(),
                bias=torch.cat([p.bias for p in parts]).contiguous(),
                stride=1,
                padding=(0, 0),
            )
            heads[block] = (merged, [int(p.bias.shape[0]) for p in parts])
    return heads


class FIDInception:
    """The FID Inception-v3 as a callable: normalised 299×299 images → pool3 features.

    Build it with :func:`build_inception`. Input: float32 tensor N×3×299×299 with values
    in [-1, 1] (the network's own scaling, (x − 128)/128 of 8-bit pixels). Output:
    float32 N×2048. Each image's features depend only on that image (no batch
    statistics), so results do not depend on the batch size beyond the float32 rounding
    of the convolution kernels, which may sum in another order for another batch size
    (oneDNN on one thread, cuDNN's choice of algorithm: ~1e-7 relative in FID at most).
    """

    def __init__(self, convs: dict[str, _Conv], device: str = "cpu") -> None:
        import torch

        self.device = torch.device(device)
        self.channels_last = self.device.type == "cpu"
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format

        def place(c: _Conv) -> _Conv:
            w = c.weight.to(self.device).contiguous(memory_format=fmt)
            return _Conv(w, c.bias.to(self.device), c.stride, c.padding)

        merged = {f"{block}.{b}" for block, kind in _BLOCKS for b in _HEADS.get(kind, ())}
        self.convs = {k: place(v) for k, v in convs.items() if k not in merged}
        self.heads = {k: (place(c), s) for k, (c, s) in _merge_heads(convs).items()}

    def __call__(self, x: Any) -> Any:
        import torch
        import torch.nn.functional as F

        with torch.inference_mode(), _ieee_fp32(self.device.type):
            x = x.to(self.device, non_blocking=True)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            for name in ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3"):
                x = self._conv(x, name)
            x = F.max_pool2d(x, kernel_size=3, stride=2)
            x = self._conv(self._conv(x, "Conv2d_3b_1x1"), "Conv2d_4a_3x3")
            x = F.max_pool2d(x, kernel_size=3, stride=2)
            for block, kind in _BLOCKS:
                x = getattr(self, f"_block_{kind.lower()}")(x, block)
            return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1).float()

    def _conv(self, x: Any, name: str, relu: bool = True) -> Any:
        import torch.nn.functional as F

        c = self.convs[name]
        y = F.conv2d(x, c.weight, c.bias, c.stride, c.padding)
        return F.relu(y, inplace=True) if relu else y

    def _head(self, x: Any, block: str) -> list[Any]:
        import torch.nn.functional as F

        c, sizes = self.heads[block]
        return list(F.conv2d(x, c.weight, c.bias).split(sizes, dim=1))

    @staticmethod
    def _pooled(y: Any) -> Any:
        import torch.nn.functional as F

        pooled = F.avg_pool2d(y, kernel_size=3, stride=1, padding=1, count_include_pad=False)
        return F.relu(pooled, inplace=True)

    def _block_a(self, x: Any, b: str) -> Any:
        import torch

        b1, b5, b3, bp = self._head(x, b)
        b5 = self._conv(b5.relu(), f"{b}.branch5x5_2")
        b3 = self._conv(self._conv(b3.relu(), f"{b}.branch3x3dbl_2"), f"{b}.branch3x3dbl_3")
        return torch.cat([b1.relu(), b5, b3, self._pooled(bp)], dim=1)

    def _block_b(self, x: Any, b: str) -> Any:
        import torch
        import torch.nn.functional as F

        b3 = self._conv(x, f"{b}.branch3x3")
        d = self._conv(x, f"{b}.branch3x3dbl_1")
        d = self._conv(self._conv(d, f"{b}.branch3x3dbl_2"), f"{b}.branch3x3dbl_3")
        return torch.cat([b3, d, F.max_pool2d(x, kernel_size=3, stride=2)], dim=1)

    def _block_c(self, x: Any, b: str) -> Any:
        import torch

        b1, s, d, bp = self._head(x, b)
        s = self._conv(self._conv(s.relu(), f"{b}.branch7x7_2"), f"{b}.branch7x7_3")
        d = d.relu()
        for i in (2, 3, 4, 5):
            d = self._conv(d, f"{b}.branch7x7dbl_{i}")
        return torch.cat([b1.relu(), s, d, self._pooled(bp)], dim=1)

    def _block_d(self, x: Any, b: str) -> Any:
        import torch
        import torch.nn.functional as F

        t, s = self._head(x, b)
        t = self._conv(t.relu(), f"{b}.branch3x3_2")
        s = s.relu()
        for i in (2, 3, 4):
            s = self._conv(s, f"{b}.branch7x7x3_{i}")
        return torch.cat([t, s, F.max_pool2d(x, kernel_size=3, stride=2)], dim=1)

    def _block_e(self, x: Any, b: str, pool: str) -> Any:
        import torch
        import torch.nn.functional as F

        heads = self._head(x, b)
        b1, t, d = (h.relu() for h in heads[:3])
        t = torch.cat([self._conv(t, f"{b}.branch3x3_2a"), self._conv(t, f"{b}.branch3x3_2b")], 1)
        d = self._conv(d, f"{b}.branch3x3dbl_2")
        d = torch.cat([self._conv(d, f"{b}.branch3x3dbl_3a"),
                       self._conv(d, f"{b}.branch3x3dbl_3b")], 1)
        if pool == "avg":
            bp = self._pooled(heads[3])
        else:  # Mixed_7c: max pool, which does not commute with the convolution
            bp = self._conv(F.max_pool2d(x, kernel_size=3, stride=1, padding=1),
                            f"{b}.branch_pool")
        return torch.cat([b1, t, d, bp], dim=1)

    def _block_e1(self, x: Any, b: str) -> Any:
        return self._block_e(x, b, "avg")

    def _block_e2(self, x: Any, b: str) -> Any:
        return self._block_e(x, b, "max")


@contextmanager
def _ieee_fp32(device_type: str) -> Iterator[None]:
    """Full float32 convolutions on CUDA while the network runs.

    cuDNN computes float32 convolutions in TF32 by default on Ampere and later GPUs,
    which moves pool3 features by ~1e-3 relative; the flag is restored afterwards.
    """
    if device_type != "cuda":
        yield
        return
    import torch

    try:
        previous = torch.backends.cudnn.allow_tf32
    except RuntimeError:  # flags set per operator with the newer API: leave them alone
        yield
        return
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32 = previous


def build_inception(state: Mapping[str, Any], device: str = "cpu") -> FIDInception:
    """The FID Inception from a checked state dict (see :func:`expected_shapes`)."""
    return FIDInception(fold_batch_norm(state), device=device)

