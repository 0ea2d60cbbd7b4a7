"""Rigid registration of time-lapse frames: rotation about the image centre plus a shift.

Convention: a `Registration` maps *reference* coordinates to *moving* coordinates. A point
``p = (row, col)`` of the reference frame lies at ``R(rotation_deg) @ (p - centre) + centre +
shift`` in the moving frame, with ``R(a) = [[cos a, -sin a], [sin a, cos a]]`` acting on
(row, col) and ``centre = ((H - 1) / 2, (W - 1) / 2)``. ``scipy.ndimage.rotate(image, a,
reshape=False)`` moves image content by the same ``R(a)``, and so does jaxaxon's series
generator (`jaxaxon.synth.series`): frame t of a generated series relative to frame 0 has
``rotation_deg == rotation_deg[t]`` of the series.

Method (`register_pair`): for every candidate angle the reference is rotated
(`scipy.ndimage.rotate`) and masked `skimage.registration.phase_cross_correlation` gives the
shift; the angle whose aligned reference correlates best (Pearson) with the moving frame
wins, then is refined (sub-degree angle, sub-pixel shift).
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import ndimage
from skimage.filters import window
from skimage.registration import phase_cross_correlation

__all__ = [
    "Registration",
    "inverse_transform_points",
    "register_pair",
    "register_series",
    "transform_points",
    "warp_image",
]


@dataclass(frozen=True, eq=False)
class Registration:
    """Transform from reference to moving coordinates (module docstring). Compared by
    identity (array fields); ``shift`` and ``centre`` are stored as float ``[2]`` arrays.

    Attributes:
      rotation_deg: rotation about ``centre`` in degrees.
      shift: ``[2]`` (row, col) shift applied after the rotation.
      centre: ``[2]`` rotation centre, ``((H - 1) / 2, (W - 1) / 2)`` of the frames.
      score: Pearson correlation of the aligned frames on their overlap (1 for identity).
    """

    rotation_deg: float
    shift: np.ndarray
    centre: np.ndarray
    score: float = 1.0

    def __post_init__(self):
        for name in ("shift", "centre"):
            value = np.asarray(getattr(self, name), dtype=np.float64)
            if value.shape != (2,) or not np.all(np.isfinite(value)):
                raise ValueError(f"Registration.{name} must be 2 finite numbers (row, col), got {value!r}")
            object.__setattr__(self, name, value)
        object.__setattr__(self, "rotation_deg", float(self.rotation_deg))

    @classmethod
    def identity(cls, shape: tuple[int, int]) -> Registration:
        """The identity registration of ``[H, W]`` frames."""
        return cls(0.0, np.zeros(2), (np.asarray(shape[:2], float) - 1.0) / 2.0)

    @property
    def matrix(self) -> np.ndarray:
        """``[2, 2]`` rotation matrix ``R`` acting on (row, col)."""
        a = np.radians(self.rotation_deg)
        return np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])


def _points(points: np.ndarray) -> np.ndarray:
    pts = np.asarray(points, dtype=np.float64)
    if pts.size == 0:
        return pts.reshape(0, 2)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"points must have shape [K, 2] (row, col), got {pts.shape}")
    return pts


def transform_points(points: np.ndarray, reg: Registration) -> np.ndarray:
    """Maps ``[K, 2]`` reference-frame points to the moving frame: ``[K, 2]``."""
    return (_points(points) - reg.centre) @ reg.matrix.T + reg.centre + reg.shift


def inverse_transform_points(points: np.ndarray, reg: Registration) -> np.ndarray:
    """Maps ``[K, 2]`` moving-frame points back to the reference frame: ``[K, 2]``."""
    return (_points(points) - reg.centre - reg.shift) @ reg.matrix + reg.centre


def warp_image(reference: np.ndarray, reg: Registration, order: int = 1, cval: float = np.nan) -> np.ndarray:
    """Resamples an ``[H, W]`` reference image onto the moving frame's pixel grid (``cval``
    outside the reference): ``[H, W]``."""
    rot = reg.matrix  # output pixel q reads the reference at R^T (q - centre - shift) + centre
    offset = reg.centre - rot.T @ (reg.centre + reg.shift)
    return ndimage.affine_transform(np.asarray(reference, float), rot.T, offset=offset, order=order, cval=cval)


def _image(x: np.ndarray, name: str) -> np.ndarray:
    img = np.asarray(x, dtype=np.float64)
    if img.ndim != 2:
        raise ValueError(f"{name} must be an [H, W] image, got shape {img.shape}")
    if not np.all(np.isfinite(img)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return img


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of ``a`` and ``b`` where ``a`` is finite (-1 when undefined)."""
    ok = np.isfinite(a)
    if ok.sum() < 3:
        return -1.0
    x, y = a[ok] - a[ok].mean(), b[ok] - b[ok].mean()
    denom = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / denom) if denom > 0 else -1.0


def _prepare(img: np.ndarray, sigma: float, percentile: float | None) -> np.ndarray:
    """Smooths (Gaussian, ``sigma`` px; 0: none), clips bright outliers (boutons, which come
    and go) at ``percentile`` so that the axons dominate, and subtracts the mean."""
    out = ndimage.gaussian_filter(img, sigma) if sigma > 0 else img
    if percentile is not None:
        out = np.minimum(out, np.percentile(out, percentile))
    return out - out.mean()


def register_pair(
    reference: np.ndarray,
    moving: np.ndarray,
    max_rotation_deg: float = 5.0,
    step_deg: float = 0.5,
    upsample_factor: int = 10,
    smooth_sigma: float = 0.0,
    clip_percentile: float | None = 97.0,
    overlap_ratio: float = 0.5,
    refine: bool = True,
) -> Registration:
    """Registers ``moving`` [H, W] to ``reference`` [H, W] (rotation about the centre + shift).

    For every candidate angle the reference is rotated and the shift found by masked
    normalised cross-correlation (`phase_cross_correlation` with masks: the rotated
    reference's empty corners are ignored); the angle whose aligned reference correlates
    best (Pearson, on the overlap) with ``moving`` wins. Its angle is refined by a parabola
    through its neighbours' scores and its integer shift by an upsampled, Hann-windowed
    `phase_cross_correlation` (kept when within one pixel and at least as good).

    Args:
      reference: ``[H, W]`` reference frame.
      moving: ``[H, W]`` frame to register.
      max_rotation_deg: candidate angles span ``[-max_rotation_deg, max_rotation_deg]``.
      step_deg: spacing of the candidate angles.
      upsample_factor: sub-pixel precision of the refined shift (1 / upsample_factor px).
      smooth_sigma: Gaussian smoothing of both frames before matching (pixels; 0: none).
      clip_percentile: both frames are clipped at this percentile (None: no clipping).
      overlap_ratio: smallest overlap of the frames, as a fraction, for a candidate shift.
      refine: refine the best angle and shift (sub-degree, sub-pixel).

    Returns:
      The `Registration` mapping reference coordinates to moving coordinates.
    """
    ref, mov = _image(reference, "reference"), _image(moving, "moving")
    if ref.shape != mov.shape:
        raise ValueError(f"reference and moving differ in shape: {ref.shape} vs {mov.shape}")
    if max_rotation_deg < 0 or step_deg <= 0:
        raise ValueError(f"need max_rotation_deg >= 0 and step_deg > 0, got {max_rotation_deg}, {step_deg}")
    centre = (np.asarray(ref.shape, float) - 1.0) / 2.0
    ref, mov = _prepare(ref, smooth_sigma, clip_percentile), _prepare(mov, smooth_sigma, clip_percentile)
    everywhere = np.ones(ref.shape, bool)

    def scored(angle: float, shift: np.ndarray) -> Registration:
        reg = Registration(angle, shift, centre)
        return dataclasses.replace(reg, score=_correlation(warp_image(ref, reg), mov))

    def evaluate(angle: float) -> Registration:
        rotated = ndimage.rotate(ref, angle, reshape=False, order=1, mode="constant", cval=0.0)
        inside = ndimage.rotate(everywhere.astype(float), angle, reshape=False, order=0) > 0.5
        found, _, _ = phase_cross_correlation(
            rotated, mov, reference_mask=inside, moving_mask=everywhere, overlap_ratio=overlap_ratio
        )
        return scored(angle, -np.asarray(found, float))  # pcc returns the moving -> reference shift

    n = int(np.floor(max_rotation_deg / step_deg + 1e-9))
    angles = step_deg * np.arange(-n, n + 1)
    regs = [evaluate(a) for a in angles]
    scores = np.array([r.score for r in regs])
    best_i = int(np.argmax(scores))
    best = regs[best_i]
    if not refine:
        return best
    if 0 < best_i < len(angles) - 1:
        lo, mid, hi = scores[best_i - 1 : best_i + 2]
        curvature = lo - 2.0 * mid + hi
        if curvature < 0:
            candidate = evaluate(angles[best_i] + 0.5 * step_deg * (lo - hi) / curvature)
            best = candidate if candidate.score >= best.score else best
    hann = window("hann", ref.shape)
    rotated = ndimage.rotate(ref, best.rotation_deg, reshape=False, order=1, mode="constant", cval=0.0)
    with warnings.catch_warnings():  # its error estimate is unused
        warnings.simplefilter("ignore", UserWarning)
        found, _, _ = phase_cross_correlation(
            rotated * hann, mov * hann, upsample_factor=upsample_factor, normalization=None
        )
    if np.all(np.abs(-found - best.shift) <= 1.0):
        candidate = scored(best.rotation_deg, -found)
        best = candidate if candidate.score >= best.score else best
    return best


def register_series(
    frames: np.ndarray | Sequence[np.ndarray],
    max_rotation_deg: float = 5.0,
    step_deg: float = 0.5,
    **options,
) -> list[Registration]:
    """Registers every frame of a ``[T, H, W]`` series to frame 0.

    Args:
      frames: ``[T, H, W]`` array or a sequence of ``T >= 2`` equally sized ``[H, W]`` frames.
      max_rotation_deg, step_deg, options: as in `register_pair`.

    Returns:
      ``T`` registrations, frame 0's the identity; ``transform_points(p, regs[t])`` maps
      frame-0 points into frame t.
    """
    shapes = {np.shape(f) for f in frames}
    if len(shapes) > 1:
        raise ValueError(f"frames differ in shape: {sorted(shapes)}")
    if len(frames) < 2:
        raise ValueError(f"a series needs at least 2 frames to register, got {len(frames)}")
    stack = np.asarray(frames, dtype=np.float64)
    if stack.ndim != 3:
        raise ValueError(f"frames must be [T, H, W], got shape {stack.shape}")
    ref = _image(stack[0], "frame 0")
    regs = [Registration.identity(ref.shape)]
    regs += [register_pair(ref, f, max_rotation_deg, step_deg, **options) for f in stack[1:]]
    return regs
