"""The SSIM engine's compiled kernels (numba): the ``fast`` extra.

Importing this module imports numba and declares the kernels; each is compiled on its
first call with a new argument type and kept in numba's on-disk cache (``__pycache__``
beside this file, else numba's user cache directory, or ``NUMBA_CACHE_DIR``), so only
the first process on a machine pays the compilation (a few seconds); later ones load it
(about 0.5 s with numba's import). Where no cache directory is writable they are
compiled in each process. :mod:`iqa.metrics._ssim_engine` decides whether they run.

:func:`strip_sums` computes one strip of a channel the way
:func:`iqa.metrics._ssim_core._strip_sums` does through BLAS, with the same float64 taps
and the same per-pixel formulas, but in registers and the caches instead of whole-strip
passes:

1. the products x·y and (x − y)² of each input row, once;
2. the vertical 11-tap pass of the four maps, two output rows at a time (each input
   row is loaded once for both);
3. per output row, one loop: the horizontal taps of the four maps, the
   contrast-structure and SSIM values, added column by column into two accumulator
   rows, which are summed at the end of the strip (a fixed order: the sums do not
   depend on threads, timing or the CPU's vector width).

The Gaussian is symmetric to the last bit (tap k equals tap 10 − k), so each 11-tap
sum adds the mirrored pairs first: 6 multiply-adds and 5 additions, against the BLAS
engine's 14 + 18 multiply-adds per value (with zero taps). Each filtered value is off by
a few units in the last place from the BLAS engine's; SSIM and MS-SSIM means agree to
~1e-15 relative. ``error_model="numpy"`` lets the divisions vectorise (IEEE results
instead of Python's ZeroDivisionError; the denominators hold C1 and C2 > 0).

:func:`half_size_into` is MS-SSIM's 2×2 mean in one pass, bit-identical to
:func:`iqa.metrics._ssim_scales.half_size`'s NumPy code.
"""

from __future__ import annotations

import numba
import numpy as np

from iqa.metrics._ssim_filter import gaussian_kernel

_OPTIONS = dict(nogil=True, boundscheck=False, error_model="numpy", fastmath={"contract"})
G = tuple(float(v) for v in gaussian_kernel())


def _jit(fn):
    try:
        return numba.njit(cache=True, **_OPTIONS)(fn)
    except RuntimeError:  # no writable cache directory: compile in each process
        return numba.njit(cache=False, **_OPTIONS)(fn)


@numba.njit(inline="always", **_OPTIONS)
def _taps(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, g0, g1, g2, g3, g4, g5):
    """The 11 taps: the Gaussian is symmetric (tap k equals tap 10 − k exactly), so the
    pairs are added first, in two chains of multiply-adds that run side by side."""
    return ((g5 * a5 + g0 * (a0 + a10) + g1 * (a1 + a9))
            + (g2 * (a2 + a8) + g3 * (a3 + a7) + g4 * (a4 + a6)))


@_jit
def _vertical2(s, r, out0, out1):  # pragma: no cover - compiled
    """Output rows ``r`` and ``r + 1`` of the vertical pass of 2-D ``s`` (12 input rows)."""
    g0, g1, g2, g3, g4, g5 = G[:6]
    a0 = s[r]
    a1 = s[r + 1]
    a2 = s[r + 2]
    a3 = s[r + 3]
    a4 = s[r + 4]
    a5 = s[r + 5]
    a6 = s[r + 6]
    a7 = s[r + 7]
    a8 = s[r + 8]
    a9 = s[r + 9]
    a10 = s[r + 10]
    a11 = s[r + 11]
    for j in range(s.shape[1]):
        t1 = a1[j]
        t2 = a2[j]
        t3 = a3[j]
        t4 = a4[j]
        t5 = a5[j]
        t6 = a6[j]
        t7 = a7[j]
        t8 = a8[j]
        t9 = a9[j]
        t10 = a10[j]
        out0[j] = _taps(a0[j], t1, t2, t3, t4, t5, t6, t7, t8, t9, t10, g0, g1, g2, g3, g4, g5)
        out1[j] = _taps(t1, t2, t3, t4, t5, t6, t7, t8, t9, t10, a11[j], g0, g1, g2, g3, g4, g5)


@_jit
def _row_sum(a, n):  # pragma: no cover - compiled
    """Sum of ``a[:n]`` in four interleaved partial sums (a fixed order)."""
    s0 = s1 = s2 = s3 = 0.0
    j = 0
    while j + 4 <= n:
        s0 += a[j]
        s1 += a[j + 1]
        s2 += a[j + 2]
        s3 += a[j + 3]
        j += 4
    while j < n:
        s0 += a[j]
        j += 1
    return (s0 + s1) + (s2 + s3)


@numba.njit(inline="always", **_OPTIONS)
def _terms(v0, v1, v2, v3, j, c2):
    """At column ``j`` of the vertically filtered rows of x, y, x·y and (x − y)²: the
    horizontal taps, then P = 2 μx μy, D = (μx − μy)² and the contrast-structure value
    (2 σxy + C2) / (σx² + σy² + C2), in the BLAS engine's order of operations (see
    :mod:`iqa.metrics._ssim_core`)."""
    g0, g1, g2, g3, g4, g5 = G[:6]
    mx = _taps(v0[j], v0[j + 1], v0[j + 2], v0[j + 3], v0[j + 4], v0[j + 5], v0[j + 6],
               v0[j + 7], v0[j + 8], v0[j + 9], v0[j + 10], g0, g1, g2, g3, g4, g5)
    my = _taps(v1[j], v1[j + 1], v1[j + 2], v1[j + 3], v1[j + 4], v1[j + 5], v1[j + 6],
               v1[j + 7], v1[j + 8], v1[j + 9], v1[j + 10], g0, g1, g2, g3, g4, g5)
    exy = _taps(v2[j], v2[j + 1], v2[j + 2], v2[j + 3], v2[j + 4], v2[j + 5], v2[j + 6],
                v2[j + 7], v2[j + 8], v2[j + 9], v2[j + 10], g0, g1, g2, g3, g4, g5)
    edd = _taps(v3[j], v3[j + 1], v3[j + 2], v3[j + 3], v3[j + 4], v3[j + 5], v3[j + 6],
                v3[j + 7], v3[j + 8], v3[j + 9], v3[j + 10], g0, g1, g2, g3, g4, g5)
    p = 2.0 * mx * my
    d = (mx - my) * (mx - my)
    num = 2.0 * exy - p + c2
    return p, d, num / ((edd - d) + num)


@_jit
def _row(v, q, n, c1, c2, want_ssim, acc_cs, acc_ssim, out):  # pragma: no cover - compiled
    """One output row from row ``q`` of the vertically filtered rows ``v`` (4, 2, W):
    its contrast-structure and (``want_ssim``) SSIM values, added column by column into
    ``acc_cs`` and ``acc_ssim``, and written to ``out`` when it is not empty. One loop
    per case, so that each has no branch and vectorises."""
    v0 = v[0, q]
    v1 = v[1, q]
    v2 = v[2, q]
    v3 = v[3, q]
    if not want_ssim:
        for j in range(n):
            p, d, cs = _terms(v0, v1, v2, v3, j, c2)
            acc_cs[j] += cs
    elif out.shape[0] == 0:
        for j in range(n):
            p, d, cs = _terms(v0, v1, v2, v3, j, c2)
            pc = p + c1
            acc_cs[j] += cs
            acc_ssim[j] += pc / (d + pc) * cs
    else:
        for j in range(n):
            p, d, cs = _terms(v0, v1, v2, v3, j, c2)
            pc = p + c1
            value = pc / (d + pc) * cs
            acc_cs[j] += cs
            acc_ssim[j] += value
            out[j] = value


@_jit
def strip_sums(src, rows, c1, c2, want_ssim, sse_rows, out, vb, hb):  # pragma: no cover
    """Sums of the SSIM and contrast-structure maps over ``rows`` output rows, and of
    (x − y)² over the first ``sse_rows`` input rows.

    ``src`` (4, R, W) float64 holds the strip's input rows of x and y in ``src[0]`` and
    ``src[1]``, then zeros up to row ``rows + 11`` where R reaches it (an odd ``rows``
    computes one row more, from zeros, and drops it); ``src[2]`` and ``src[3]`` receive
    x·y and (x − y)². ``vb`` (4, 2, W) and ``hb`` (4, W) are scratch. ``out``
    (``rows`` × ≥ W − 10, or no rows) receives the SSIM map when it has rows.
    """
    x = src[0]
    y = src[1]
    xy = src[2]
    dd = src[3]
    width = src.shape[2]
    n = width - 10
    lim = min(src.shape[1], rows + 11)
    sse = 0.0
    write = out.shape[0] > 0
    for i in range(lim):
        xr = x[i]
        yr = y[i]
        pr = xy[i]
        dr = dd[i]
        for j in range(width):
            a = xr[j]
            b = yr[j]
            pr[j] = a * b
            e = a - b
            dr[j] = e * e
    for i in range(sse_rows):
        sse += _row_sum(dd[i], width)
    acc_cs = hb[0]
    acc_ssim = hb[1]
    acc_cs[:] = 0.0
    acc_ssim[:] = 0.0
    for i in range(0, rows, 2):
        for k in range(4):
            _vertical2(src[k], i, vb[k, 0], vb[k, 1])
        for q in range(2):
            if i + q >= rows:
                break
            _row(vb, q, n, c1, c2, want_ssim, acc_cs, acc_ssim,
                 out[i + q] if write else hb[2, :0])
    s_cs = _row_sum(acc_cs, n)
    s_ssim = _row_sum(acc_ssim, n)
    return s_ssim, s_cs, sse


def warm() -> None:
    """Compile (or load from the cache) the kernel for its one signature."""
    strip_sums(np.zeros((4, 13, 12)), 2, 1.0, 1.0, True, 1, np.zeros((0, 2)),
               np.zeros((4, 2, 12)), np.zeros((4, 12)))



@_jit
def half_size_into(a, out):  # pragma: no cover - compiled
    """:func:`iqa.metrics._ssim_scales.half_size` of 2-D ``a`` into ``out``, in one pass,
    bit-identical: ((a00 + a10) + a01) + a11 in float64 (an odd side's last row or
    column pair added once and doubled), times 0.25. Float ``a`` gets float64 ``out``,
    with NumPy's order of additions. Integer ``a`` of up to 16 bits gets float32
    ``out``: its sums are exact in float64, and the quarter-integer means (below 2**18)
    in float32, as NumPy's integer sums are."""
    h, w = a.shape
    he = h - h % 2
    we = w - w % 2
    for i in range(0, he, 2):
        r0 = a[i]
        r1 = a[i + 1]
        o = out[i // 2]
        for j in range(we // 2):
            k = 2 * j
            o[j] = (((np.float64(r0[k]) + np.float64(r1[k])) + np.float64(r0[k + 1]))
                    + np.float64(r1[k + 1])) * 0.25
        if w % 2:
            o[we // 2] = ((np.float64(r0[w - 1]) + np.float64(r1[w - 1])) * 2.0) * 0.25
    if h % 2:
        r = a[h - 1]
        o = out[he // 2]
        for j in range(we // 2):
            o[j] = ((np.float64(r[2 * j]) + np.float64(r[2 * j + 1])) * 2.0) * 0.25
        if w % 2:
            o[we // 2] = (np.float64(r[w - 1]) * 4.0) * 0.25
