"""The axon scene of one image: branches drawn with bounded vectorised rejection (spec 1.1-1.7).

Branch slots follow a fixed layout: slot ``a * MaxBran + b`` holds branch ``b`` of axon
``a`` (``b = 0`` is the mother). Each slot draws ``branch_candidates`` complete candidate
branches at once (walk, spline, profile, gap), tests them all, and keeps the first
acceptable one. A slot with no acceptable candidate makes the whole scene redraw (as the
original restarts the image), at most `GeneratorConfig.n_scene_attempts` times; if the
last attempt still has failed branches they are left out (``branch_valid`` False) and
counted in ``failed_branches``, never silently replaced.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

from jaxaxon.config import GeneratorConfig
from jaxaxon.synth.draws import uniform_int
from jaxaxon.synth.profile import GAP_DRAWS, PROFILE_DRAWS, gap_from_uniform, profile_from_uniform, start_intensity
from jaxaxon.synth.raster import footprint_mask, inside_image, point_windows, rect_any, summed_area_table
from jaxaxon.synth.spline import resample_spline
from jaxaxon.synth.walk import edge_starts_from_uniform, first_exit, walk_from_uniform

__all__ = ["AxonScene", "draw_scene", "draw_scenes", "retry_batch_size", "slot_axon_ids", "slot_branch_ids"]

_STRADDLE_BUDGET = 24  # window points per daughter candidate tested pixel by pixel


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class AxonScene:
    """Centrelines of one image (add a leading batch axis for batches).

    Attributes:
      points: ``[NB, NSP, 2]`` float32 centreline points (row, col), NB branch slots.
      branch_valid: ``[NB]`` bool, the slot holds a drawn branch.
      thickness: ``[NB]`` float32 branch thickness (pixels).
      variation: ``[NB, NSP]`` float32 intensity profile (fractions), gaps applied.
      gap: ``[NB, NSP]`` bool gap points.
      parent_slot: ``[NB]`` int32 slot the branch starts on (-1 for mothers).
      parent_index: ``[NB]`` int32 index of its start point on the parent (-1 for mothers).
      failed_branches: ``[]`` int32 branches that had no acceptable candidate in the
        last scene attempt (left out of the scene).
      attempts: ``[]`` int32 scene attempts used.
    """

    points: jax.Array
    branch_valid: jax.Array
    thickness: jax.Array
    variation: jax.Array
    gap: jax.Array
    parent_slot: jax.Array
    parent_index: jax.Array
    failed_branches: jax.Array
    attempts: jax.Array


def slot_axon_ids(cfg: GeneratorConfig) -> jax.Array:
    """``[NB]`` axon index of each branch slot."""
    return jnp.arange(cfg.max_branches, dtype=jnp.int32) // cfg.MaxBran


def slot_branch_ids(cfg: GeneratorConfig) -> jax.Array:
    """``[NB]`` branch index within its axon of each slot (0 = mother)."""
    return jnp.arange(cfg.max_branches, dtype=jnp.int32) % cfg.MaxBran


def draw_scene(key: jax.Array, cfg: GeneratorConfig, bounds: tuple[jax.Array, jax.Array] | None = None) -> AxonScene:
    """Draws the axon scene of one image (`draw_scenes` on a batch of one).

    Args:
      key: PRNG key.
      cfg: generator parameters (static); ``cfg.shape`` is the static canvas.
      bounds: optional (possibly traced) ``(rows, cols) <= cfg.shape``: draw on the
        top-left ``rows x cols`` part of the canvas only (time series, whose padded canvas
        depends on the drawn rotation angles).

    Returns:
      An `AxonScene` without batch axis.
    """
    return jax.tree.map(lambda x: x[0], draw_scenes(key[None], cfg, bounds))


def retry_batch_size(batch_size: int) -> int:
    """Scenes redrawn together per retry round of `draw_scenes` (static)."""
    return max(1, min(batch_size, 4 + batch_size // 32))


def draw_scenes(
    keys: jax.Array, cfg: GeneratorConfig, bounds: tuple[jax.Array, jax.Array] | None = None
) -> AxonScene:
    """Draws a batch of scenes, each redrawn with ``fold_in(key, attempt)`` until it has no
    failed branch or ``n_scene_attempts`` are used.

    Under `vmap`, one redraw loop per scene becomes one loop over the whole batch: every
    round redraws every scene (discarding the results of those already done), and a large
    batch almost always holds a scene that needs the last allowed attempt, so each image
    paid ``n_scene_attempts`` full attempts. Here each round redraws only the next
    `retry_batch_size` unfinished scenes (gathered by index, scattered back); large batches
    draw the first attempt for all scenes before the loop. The keys are per scene, so a
    scene does not depend on the batch (its float fields up to the last-bit rounding that
    differs between compiled batch shapes).

    Args:
      keys: ``[B]`` PRNG keys, one per scene.
      cfg: generator parameters (static).
      bounds: optional image part to draw on, as in `draw_scene` (the same for the batch).

    Returns:
      An `AxonScene` with a leading batch axis ``B``.
    """
    bounds = cfg.shape if bounds is None else bounds
    batch = keys.shape[0]
    attempt = jax.vmap(lambda k, i: _attempt(jax.random.fold_in(k, i), cfg, bounds))
    size = retry_batch_size(batch)

    def pending(state):
        scenes, used = state
        return (used == 0) | ((scenes.failed_branches > 0) & (used < cfg.n_scene_attempts))

    def body(state):
        scenes, used = state
        index = jnp.nonzero(pending(state), size=size, fill_value=batch)[0]  # [size]; batch = no scene
        safe = jnp.minimum(index, batch - 1)
        redrawn = attempt(keys[safe], used[safe])
        scenes = jax.tree.map(lambda full, part: full.at[index].set(part, mode="drop"), scenes, redrawn)
        return scenes, used.at[index].add(1, mode="drop")

    used = jnp.zeros((batch,), jnp.int32)
    if size == batch:  # every attempt inside the loop: the scene graph is traced and compiled once
        empty = jax.eval_shape(attempt, keys, used)
        scenes = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), empty)
    else:  # the first attempt for the whole batch, then rounds of `size` redraws
        scenes, used = attempt(keys, used), used + 1
    scenes, used = jax.lax.while_loop(lambda state: jnp.any(pending(state)), body, (scenes, used))
    return dataclasses.replace(scenes, attempts=used)


# --- one attempt ----------------------------------------------------------------------------


def _attempt(key: jax.Array, cfg: GeneratorConfig, bounds) -> AxonScene:
    nb, nsp = cfg.max_branches, cfg.NSplinePoints
    k_counts, k_draw = jax.random.split(key)
    u = jax.random.uniform(k_counts, (1 + cfg.MaxAxons + nb,))
    n_axons = uniform_int(u[0], cfg.MinAxons, cfg.MaxAxons)
    n_bran = uniform_int(u[1 : 1 + cfg.MaxAxons], cfg.MinBran, cfg.MaxBran)
    thick_lo, thick_hi = round(100 * cfg.MinThickness), round(100 * cfg.MaxThickness)
    thickness = uniform_int(u[1 + cfg.MaxAxons :], thick_lo, thick_hi).astype(jnp.float32) / 100.0
    axon_of, branch_of = slot_axon_ids(cfg), slot_branch_ids(cfg)
    active = (axon_of < n_axons) & (branch_of < n_bran[axon_of])

    state = dict(
        points=jnp.zeros((nb, nsp, 2), jnp.float32),
        variation=jnp.zeros((nb, nsp), jnp.float32),
        gap=jnp.zeros((nb, nsp), bool),
        valid=jnp.zeros((nb,), bool),
        parent_slot=jnp.full((nb,), -1, jnp.int32),
        parent_index=jnp.full((nb,), -1, jnp.int32),
        footprint=jnp.zeros(cfg.shape, bool),
        failed=jnp.int32(0),
    )

    def axon_body(state, inputs):
        axon, k_axon = inputs
        k_mother, k_daughters = jax.random.split(k_axon)
        slot = axon * cfg.MaxBran
        state = _place_branch(state, k_mother, slot, thickness[slot], active[slot], cfg, bounds, mother=True)

        def daughter_body(state, inputs):
            branch, k_branch = inputs
            slot_d = slot + branch
            placed = _place_branch(state, k_branch, slot_d, thickness[slot_d], active[slot_d], cfg, bounds, mother=False)
            return placed, None

        daughters = (jnp.arange(1, cfg.MaxBran), jax.random.split(k_daughters, cfg.MaxBran - 1))
        state, _ = jax.lax.scan(daughter_body, state, daughters)
        return state, None

    axons = (jnp.arange(cfg.MaxAxons), jax.random.split(k_draw, cfg.MaxAxons))
    state, _ = jax.lax.scan(axon_body, state, axons)
    return AxonScene(
        points=state["points"],
        branch_valid=state["valid"],
        thickness=thickness,
        variation=state["variation"],
        gap=state["gap"],
        parent_slot=state["parent_slot"],
        parent_index=state["parent_index"],
        failed_branches=state["failed"],
        attempts=jnp.int32(1),
    )


def _place_branch(state, key, slot, thickness, active, cfg: GeneratorConfig, bounds, *, mother: bool):
    """Draws the candidates of one slot, keeps the first acceptable one, updates the state.

    All randomness of the slot comes from one block of uniforms ``[K, S + 12]`` (walk
    turns, start, start value, profile, gap), one threefry computation in the program.
    """
    n_cand, nsp, n_steps = cfg.branch_candidates, cfg.NSplinePoints, cfg.max_walk_steps
    height, width = bounds
    u = jax.random.uniform(key, (n_cand, n_steps + 3 + PROFILE_DRAWS + GAP_DRAWS))
    u_walk, u_start, u_value = u[:, :n_steps], u[:, n_steps : n_steps + 2], u[:, n_steps + 2]
    u_profile = u[:, n_steps + 3 : n_steps + 3 + PROFILE_DRAWS]
    u_gap = u[:, n_steps + 3 + PROFILE_DRAWS :]

    if mother:
        start, direction = edge_starts_from_uniform(u_start.T, height, width)
        start_value = start_intensity(u_value, cfg.MinAxonIntensity, cfg.MaxAxonIntensity)
        has_start = jnp.ones((n_cand,), bool)
        parent_slot = jnp.full((n_cand,), -1, jnp.int32)
        parent_index = jnp.full((n_cand,), -1, jnp.int32)
        first_turn_cos = None
        profile = cfg.AxonProfile
    else:
        eligible = _start_candidates(state, slot, cfg, bounds).ravel()
        count = jnp.cumsum(eligible)
        pick_rank = uniform_int(u_start[:, 0], 1, jnp.maximum(count[-1], 1))  # a uniform eligible point
        choice = jnp.searchsorted(count, pick_rank, method="compare_all")  # no loop of log2(N) steps
        has_start = jnp.broadcast_to(count[-1] > 0, (n_cand,))
        parent_slot, parent_index = (choice // nsp).astype(jnp.int32), (choice % nsp).astype(jnp.int32)
        pts = state["points"]
        start = pts[parent_slot, parent_index]
        nxt = pts[parent_slot, jnp.minimum(parent_index + 1, nsp - 1)]
        prev = pts[parent_slot, jnp.maximum(parent_index - 1, 0)]
        tangent = jnp.where((parent_index > 0)[:, None], start - prev, nxt - start)
        fallback = jnp.where(jnp.linalg.norm(nxt - start, axis=-1, keepdims=True) > 1e-6, nxt - start, jnp.array([1.0, 0.0]))
        direction = jnp.where(jnp.linalg.norm(tangent, axis=-1, keepdims=True) > 1e-6, tangent, fallback)
        start_value = state["variation"][parent_slot, parent_index]
        first_turn_cos = math.cos(math.pi / 4)
        profile = cfg.BranchProfile

    with jax.named_scope("walk"):
        walk = jax.vmap(
            lambda uw, s, d: walk_from_uniform(
                uw, s, d, step_size=cfg.StepSize, conformity=cfg.conformity, first_turn_cos=first_turn_cos
            )
        )(u_walk, start, direction)
        control, n_points, exited = jax.vmap(lambda w: first_exit(w, height, width))(walk)
    with jax.named_scope("spline"):
        points = jax.vmap(lambda c, n: resample_spline(c, n, nsp))(control, n_points)
    values = jax.vmap(
        lambda up, s: profile_from_uniform(
            up, s, profile=profile, n_points=nsp, min_pct=cfg.MinAxonIntensity,
            max_pct=cfg.MaxAxonIntensity, min_period=cfg.MinPeriod, max_period=cfg.MaxPeriod,
            fixed=cfg.fixed,
        )
    )(u_profile, start_value)  # fmt: skip
    values, gaps = jax.vmap(lambda ug, v: gap_from_uniform(ug, v, cfg.MinGapSize, cfg.MaxGapSize))(u_gap, values)

    accept = exited & has_start
    if not cfg.crossingOK:
        with jax.named_scope("overlap_test"):
            table = summed_area_table(state["footprint"])
            inside = inside_image(points, height, width)
            hit = jax.vmap(lambda p: rect_any(table, p, thickness))(points) & inside  # [K, NSP]
            if mother:
                start_pix = jnp.round(start).astype(jnp.int32)
                start_free = ~state["footprint"][start_pix[:, 0], start_pix[:, 1]]
                accept &= start_free & ~jnp.any(hit, axis=-1)
            else:
                centre = start if cfg.fixed else start[:, ::-1]  # B1: row and column swapped
                allowed = cfg.straightBranching * thickness
                conflict = jax.vmap(
                    lambda p, ins, h, c: _daughter_conflict(state["footprint"], p, ins, h, c, thickness, allowed, cfg, bounds)
                )(points, inside, hit, centre)
                accept &= ~conflict

    pick = jnp.argmax(accept)
    ok = accept[pick] & active
    new = dict(state)
    new["points"] = state["points"].at[slot].set(jnp.where(ok, points[pick], 0.0))
    new["variation"] = state["variation"].at[slot].set(jnp.where(ok, values[pick], 0.0))
    new["gap"] = state["gap"].at[slot].set(gaps[pick] & ok)
    new["valid"] = state["valid"].at[slot].set(ok)
    new["parent_slot"] = state["parent_slot"].at[slot].set(jnp.where(ok, parent_slot[pick], -1))
    new["parent_index"] = state["parent_index"].at[slot].set(jnp.where(ok, parent_index[pick], -1))
    new["failed"] = state["failed"] + (active & ~ok).astype(jnp.int32)
    if not cfg.crossingOK:
        own = footprint_mask(
            points[pick], jnp.broadcast_to(ok, (nsp,)), thickness, *cfg.shape, cfg.raster_halfwidth, bounds
        )
        new["footprint"] = state["footprint"] | own
    return new


def _start_candidates(state, slot, cfg: GeneratorConfig, bounds) -> jax.Array:
    """``[NB, NSP]`` points a daughter in ``slot`` may start on (spec 1.7, bug B3)."""
    nb, nsp = cfg.max_branches, cfg.NSplinePoints
    slots = jnp.arange(nb)
    same_axon_before = (slots // cfg.MaxBran == slot // cfg.MaxBran) & (slots < slot)
    eligible = (state["valid"] & same_axon_before)[:, None] & inside_image(state["points"], *bounds)
    if cfg.fixed:
        excluded = state["gap"]
    else:  # B3: per-branch gap indices used as positions in the whole image's point list
        any_gap = jnp.any(state["gap"] & state["valid"][:, None], axis=0)  # [NSP]
        excluded = jnp.zeros((nb, nsp), bool).at[0].set(any_gap)
    return eligible & ~excluded


def _daughter_conflict(footprint, points, inside, hit, centre, thickness, allowed, cfg: GeneratorConfig, bounds):
    """Whether a daughter candidate shares a footprint pixel farther than ``allowed`` from
    ``centre`` (spec 1.6).

    Windows entirely outside the allowed disc use the summed-area test ``hit``; windows
    entirely inside it cannot conflict; windows straddling its rim (a few points where the
    branch leaves the disc) are tested pixel by pixel, up to a static budget per candidate
    beyond which the rim windows fall back to the whole-window test (which can only reject
    more, never accept a crossing).
    """
    height, width = bounds
    t = thickness
    lo = jnp.stack([jnp.floor(points[:, 0] - t), jnp.floor(points[:, 1] - t)], -1)
    hi = jnp.stack([jnp.ceil(points[:, 0] + t), jnp.ceil(points[:, 1] + t)], -1)
    top = jnp.stack([height - 1, width - 1]).astype(jnp.float32)
    lo = jnp.clip(lo, 0, top)
    hi = jnp.clip(hi, 0, top)
    nearest = jnp.clip(centre, lo, hi)
    d_min = jnp.linalg.norm(nearest - centre, axis=-1)
    farthest = jnp.where(jnp.abs(lo - centre) > jnp.abs(hi - centre), lo, hi)
    d_max = jnp.linalg.norm(farthest - centre, axis=-1)
    outside_disc = d_min > allowed
    rim = inside & ~outside_disc & (d_max > allowed)
    rank = jnp.cumsum(rim) - 1
    overflow = rim & (rank >= _STRADDLE_BUDGET)
    conflict = jnp.any(hit & (outside_disc | overflow))
    # pixel-by-pixel test of the first rim windows
    budget = min(_STRADDLE_BUDGET, points.shape[0])
    order = jnp.argsort(~rim, stable=True)[:budget]
    static_width = cfg.shape[1]
    flat, in_window, _ = point_windows(points[order], rim[order], t, *cfg.shape, cfg.raster_halfwidth, bounds)
    shared = footprint.ravel().at[flat].get(mode="fill", fill_value=False) & in_window
    pix = jnp.stack([flat // static_width, flat % static_width], -1).astype(jnp.float32)
    far = jnp.linalg.norm(pix - centre, axis=-1) > allowed
    return conflict | jnp.any(shared & far)
