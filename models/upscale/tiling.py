"""Run a super-resolution model over an image in overlapping tiles and blend the seams away.

Memory of a convolutional upscaler grows with the input area, so large inputs are cut into `tile`-sized
pieces that overlap by `overlap` pixels; each output tile is weighted by a linear ramp across the overlaps
(and 1 elsewhere), so neighbouring tiles cross-fade instead of meeting at a visible seam. When the model runs
out of memory, `upscale_with_oom_retry` frees memory and tries again with half the tile, down to `min_tile`.
Progress is reported per tile (`progress(done, total)`: once with 0 before the first tile, then after each one)
and the cancel check runs before every tile, so a long upscale shows how far it is and stops within one tile.
Works on float32 HxWxC arrays in [0, 1]; the model function is any callable with the same convention.
"""

from __future__ import annotations

import logging
from typing import Callable

import numpy as np

from core.errors import Cancelled
from models.cache import free_accelerator_memory, is_out_of_memory

log = logging.getLogger(__name__)

ModelFn = Callable[[np.ndarray], np.ndarray]
TileProgress = Callable[[int, int], None]  # (tiles done, tiles in all)


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets covering [0, length) with tiles of `tile` that overlap by at least `overlap`."""
    if tile <= 0 or length <= tile:
        return [0]
    stride = max(1, tile - overlap)
    starts = list(range(0, length - tile, stride))
    starts.append(length - tile)
    return starts


def _ramp(size: int, ramp_in: int, ramp_out: int) -> np.ndarray:
    weights = np.ones(size, dtype=np.float32)
    if ramp_in > 0:
        weights[:ramp_in] = (np.arange(ramp_in, dtype=np.float32) + 0.5) / ramp_in
    if ramp_out > 0:
        weights[size - ramp_out:] = np.minimum(weights[size - ramp_out:],
                                               (np.arange(ramp_out, 0, -1, dtype=np.float32) - 0.5) / ramp_out)
    return weights


def upscale_tiled(image: np.ndarray, model_fn: ModelFn, scale: int, *, tile: int, overlap: int = 16,
                  progress: TileProgress | None = None,
                  cancelled: Callable[[], bool] | None = None) -> np.ndarray:
    """`model_fn` over `image` (H, W, C float32) tile by tile; returns the (H*scale, W*scale, C) blend."""
    height, width = image.shape[:2]
    overlap = min(overlap, tile // 2)  # an overlap as wide as the tile would make a tile per pixel
    ys, xs = tile_starts(height, tile, overlap), tile_starts(width, tile, overlap)
    total, done = len(ys) * len(xs), 0
    _tile_done(progress, 0, total)
    if total == 1:
        _check_cancel(cancelled)
        result = _checked(model_fn(image), image.shape, scale)
        _tile_done(progress, 1, 1)
        return result
    out = np.zeros((height * scale, width * scale, image.shape[2]), dtype=np.float32)
    weight_sum = np.zeros((height * scale, width * scale, 1), dtype=np.float32)
    for iy, y in enumerate(ys):
        for ix, x in enumerate(xs):
            _check_cancel(cancelled)
            piece = image[y:y + tile, x:x + tile]
            result = _checked(model_fn(piece), piece.shape, scale)
            h, w = piece.shape[:2]
            # Ramps only on sides shared with a neighbour, as wide as the overlap actually there (the last
            # tile is aligned to the border, so its overlap can exceed `overlap`).
            up = ys[iy - 1] + tile - y if iy > 0 else 0
            down = y + h - ys[iy + 1] if iy + 1 < len(ys) else 0
            left = xs[ix - 1] + tile - x if ix > 0 else 0
            right = x + w - xs[ix + 1] if ix + 1 < len(xs) else 0
            wy = _ramp(h * scale, up * scale, down * scale)
            wx = _ramp(w * scale, left * scale, right * scale)
            weights = (wy[:, None] * wx[None, :])[..., None]
            out[y * scale:(y + h) * scale, x * scale:(x + w) * scale] += result * weights
            weight_sum[y * scale:(y + h) * scale, x * scale:(x + w) * scale] += weights
            done += 1
            _tile_done(progress, done, total)
    return out / np.maximum(weight_sum, 1e-8)


def _check_cancel(cancelled) -> None:
    if cancelled is not None and cancelled():
        raise Cancelled("Upscaling was cancelled.")


def _tile_done(progress: TileProgress | None, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)


def upscale_with_oom_retry(image: np.ndarray, model_fn: ModelFn, scale: int, *, tile: int, overlap: int = 16,
                           min_tile: int = 64, progress=None, cancelled=None) -> tuple[np.ndarray, int]:
    """`upscale_tiled`, halving the tile after each out-of-memory error; returns (result, tile used)."""
    if tile <= 0:
        tile = max(image.shape[:2])
    while True:
        try:
            return upscale_tiled(image, model_fn, scale, tile=tile, overlap=overlap, progress=progress,
                                 cancelled=cancelled), tile
        except Exception as exc:  # noqa: BLE001 - anything but an out-of-memory error is re-raised
            if not is_out_of_memory(exc) or tile // 2 < min_tile:
                raise
            log.warning("upscaler out of memory at tile %d; retrying with tile %d", tile, tile // 2)
            free_accelerator_memory()
            tile //= 2
            overlap = min(overlap, tile // 4)


def _checked(result: np.ndarray, in_shape: tuple, scale: int) -> np.ndarray:
    expected = (in_shape[0] * scale, in_shape[1] * scale)
    if tuple(result.shape[:2]) != expected:
        raise RuntimeError(f"the upscaler returned {result.shape[1]}x{result.shape[0]}, expected "
                           f"{expected[1]}x{expected[0]} (is its scale really {scale}x?)")
    return result.astype(np.float32, copy=False)
