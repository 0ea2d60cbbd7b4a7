"""The axon scene of one image: branches drawn with bounded vectorised rejection (docs/original.md, steps 1-3).

Branch slots follow a fixed layout: slot ``a * MaxBran + b`` holds branch ``b`` of axon
``a`` (``b = 0`` is the mother). Each slot has ``branch_candidates`` complete candidate
branches (walk, spline, profile, gap) and keeps the first acceptable one; the candidates
are drawn and tested a chunk at a time for the whole batch, and only the scenes still
without an acceptable one draw the next chunk (`_place_slot`). A slot with no acceptable
candidate makes the whole scene redraw (as the original restarts the image), at most
`GeneratorConfig.n_scene_attempts` times; if the last attempt still has failed branches
they are left out (``branch_valid`` False) and counted in ``failed_branches``, never
silently replaced.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

from jaxaxon.config import GeneratorConfig
from jaxaxon.synth import rng
from jaxaxon.synth.draws import uniform_int
from jaxaxon.synth.profile import GAP_DRAWS, PROFILE_DRAWS, gap_from_uniform, profile_from_uniform, start_intensity
from jaxaxon.synth.raster import footprint_mask, inside_image, point_windows, rect_any, summed_area_table
from jaxaxon.synth.spline import resample_spline
from jaxaxon.synth.walk import edge_starts_from_uniform, first_exit, walk_from_uniform

__all__ = ["AxonScene", "draw_scene", "draw_scenes", "retry_batch_size", "slot_axon_ids", "slot_branch_ids"]

_STRADDLE_BUDGET = 24  # window points per daughter candidate tested pixel by pixel
CANDIDATE_CHUNK = 8  # candidates of a branch slot tested together (`_place_slot`)


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
    keys: jax.Array,
    cfg: GeneratorConfig,
    bounds: tuple[jax.Array, jax.Array] | None = None,
    chunk: int | None = None,
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
      chunk: candidates of a branch slot tested together (static; default
        `candidate_chunk`). Any value gives the same scenes (`_place_slot`).

    Returns:
      An `AxonScene` with a leading batch axis ``B``.
    """
    bounds = cfg.shape if bounds is None else bounds
    batch = keys.shape[0]

    def attempt(keys, used, chunk=chunk, slot_retry=None):  # attempt `used` of each scene
        return _attempt_batch(jax.vmap(jax.random.fold_in)(keys, used), cfg, bounds, chunk, slot_retry)

    size = retry_batch_size(batch)
    # redraws (after a first attempt for the whole batch) are the hard scenes: all their
    # candidates at once by default; small batches draw every attempt in chunks
    redraw_chunk = cfg.branch_candidates if chunk is None and size < batch else chunk

    def pending(state):
        scenes, used = state
        return (used == 0) | ((scenes.failed_branches > 0) & (used < cfg.n_scene_attempts))

    def body(state):
        scenes, used = state
        index = jnp.nonzero(pending(state), size=size, fill_value=batch)[0]  # [size]; batch = no scene
        safe = jnp.minimum(index, batch - 1)
        redrawn = attempt(keys[safe], used[safe], redraw_chunk, slot_retry=size)  # every chunk in one loop
        scenes = jax.tree.map(lambda full, part: full.at[index].set(part, mode="drop"), scenes, redrawn)
        return scenes, used.at[index].add(1, mode="drop")

    used = jnp.zeros((batch,), jnp.int32)
    if size == batch:  # every attempt inside the loop: the scene graph is traced and compiled once
        empty = jax.eval_shape(lambda k, u: attempt(k, u, redraw_chunk, size), keys, used)
        scenes = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), empty)
    else:  # the first attempt for the whole batch, then rounds of `size` redraws
        scenes, used = attempt(keys, used), used + 1
    scenes, used = jax.lax.while_loop(lambda state: jnp.any(pending(state)), body, (scenes, used))
    return dataclasses.replace(scenes, attempts=used)


# --- one attempt, for a batch of scenes ---------------------------------------------------------


def candidate_chunk(cfg: GeneratorConfig) -> int:
    """Candidates of a branch slot tested together (static): `CANDIDATE_CHUNK`, at most
    ``branch_candidates``."""
    return min(CANDIDATE_CHUNK, cfg.branch_candidates)


def slot_retry_size(batch_size: int) -> int:
    """Scenes whose next candidate chunk is drawn together per retry round (static)."""
    return max(1, min(batch_size, 8 + batch_size // 8))


def _candidate_draws(cfg: GeneratorConfig) -> int:
    """Uniforms per candidate: walk turns, start (2), start value, profile, gap."""
    return cfg.max_walk_steps + 3 + PROFILE_DRAWS + GAP_DRAWS


def _attempt_batch(
    keys: jax.Array, cfg: GeneratorConfig, bounds, chunk: int | None = None, slot_retry: int | None = None
) -> AxonScene:
    """One attempt at each scene of a batch: its branch slots in order, each slot placed
    for the whole batch at once (`_place_slot`).

    Args:
      keys: ``[B]`` attempt keys.
      cfg: generator parameters (static).
      bounds: image part to draw on (`draw_scene`).
      chunk: candidates tested together (static; default `candidate_chunk`).
      slot_retry: scenes per candidate retry round of a slot (static; default
        `slot_retry_size`; the batch size tests every chunk inside one loop, which compiles
        the candidate code once instead of twice).

    Returns:
      An `AxonScene` with a leading batch axis (``attempts`` 1).
    """
    nb, nsp = cfg.max_branches, cfg.NSplinePoints
    batch = keys.shape[0]
    chunk = candidate_chunk(cfg) if chunk is None else chunk

    def setup(key):
        k_counts, k_draw = jax.random.split(key)
        u = rng.uniform(k_counts, (1 + cfg.MaxAxons + nb,))
        n_axons = uniform_int(u[0], cfg.MinAxons, cfg.MaxAxons)
        n_bran = uniform_int(u[1 : 1 + cfg.MaxAxons], cfg.MinBran, cfg.MaxBran)
        thick_lo, thick_hi = round(100 * cfg.MinThickness), round(100 * cfg.MaxThickness)
        thickness = uniform_int(u[1 + cfg.MaxAxons :], thick_lo, thick_hi).astype(jnp.float32) / 100.0
        axon_of, branch_of = slot_axon_ids(cfg), slot_branch_ids(cfg)
        active = (axon_of < n_axons) & (branch_of < n_bran[axon_of])
        # slot keys: axon key -> (mother, daughters); daughters key -> one key per daughter
        mother_daughters = jax.vmap(jax.random.split)(jax.random.split(k_draw, cfg.MaxAxons))  # [A, 2]
        daughters = jax.vmap(lambda k: jax.random.split(k, cfg.MaxBran - 1))(mother_daughters[:, 1])
        slot_keys = jnp.concatenate([mother_daughters[:, :1], daughters], axis=1).reshape(nb)
        return thickness, active, slot_keys

    thickness, active, slot_keys = jax.vmap(setup)(keys)  # [B, NB] each
    state = dict(
        points=jnp.zeros((batch, nb, nsp, 2), jnp.float32),
        variation=jnp.zeros((batch, nb, nsp), jnp.float32),
        gap=jnp.zeros((batch, nb, nsp), bool),
        valid=jnp.zeros((batch, nb), bool),
        parent_slot=jnp.full((batch, nb), -1, jnp.int32),
        parent_index=jnp.full((batch, nb), -1, jnp.int32),
        footprint=jnp.zeros((batch, *cfg.shape), bool),
        failed=jnp.zeros((batch,), jnp.int32),
    )

    def place(state, slot, mother):
        return _place_slot(
            state, slot_keys[:, slot], slot, thickness[:, slot], active[:, slot], cfg, bounds,
            mother=mother, chunk=chunk, retry=slot_retry_size(batch) if slot_retry is None else slot_retry,
        )  # fmt: skip

    def axon_body(state, axon):
        state = place(state, axon * cfg.MaxBran, True)
        daughter = lambda st, b: (place(st, axon * cfg.MaxBran + b, False), None)  # noqa: E731
        state, _ = jax.lax.scan(daughter, state, jnp.arange(1, cfg.MaxBran))
        return state, None

    state, _ = jax.lax.scan(axon_body, state, jnp.arange(cfg.MaxAxons))
    return AxonScene(
        points=state["points"],
        branch_valid=state["valid"],
        thickness=thickness,
        variation=state["variation"],
        gap=state["gap"],
        parent_slot=state["parent_slot"],
        parent_index=state["parent_index"],
        failed_branches=state["failed"],
        attempts=jnp.ones((batch,), jnp.int32),
    )


def _place_slot(
    state, keys, slot, thickness, active, cfg: GeneratorConfig, bounds, *, mother: bool, chunk: int, retry: int
):
    """Places one branch slot in every scene of a batch: the first acceptable of its
    ``branch_candidates`` candidates, tested ``chunk`` at a time.

    Under `vmap`, testing all candidates of every scene costs ``branch_candidates`` full
    candidates per scene although most slots accept one of the first few. The first chunk
    is tested for the whole batch; the scenes without an acceptable candidate yet have
    their next chunk tested `slot_retry_size` at a time (gathered by index, scattered
    back) until each has one or has run out of candidates. Candidate ``j`` of a slot always
    uses row ``j`` of the slot's uniforms, so the result is the first acceptable candidate
    whatever the chunk size and batch.

    Args:
      state: batched scene state (dict of ``[B, ...]`` arrays).
      keys: ``[B]`` slot keys.
      slot: slot index (traced int).
      thickness: ``[B]`` branch thickness.
      active: ``[B]`` bool, the slot is drawn in this scene.
      cfg: generator parameters (static).
      bounds: image part to draw on.
      mother: static, the slot holds a mother branch.
      chunk: static number of candidates tested together.
      retry: static number of scenes per retry round (the batch size: every chunk in the
        loop, none before it).

    Returns:
      The updated batched state.
    """
    batch = keys.shape[0]
    n_cand = cfg.branch_candidates
    n_chunks = -(-n_cand // chunk)
    size = min(retry, batch)
    # what the candidates are tested against: the state and, for the crossing test, the summed-area
    # table of the footprint, made once per slot and scene rather than once per chunk tested
    view = state if cfg.crossingOK else dict(state, table=jax.vmap(summed_area_table)(state["footprint"]))

    def evaluate(st, key, first, t):  # one scene, candidates first .. first + chunk - 1
        # only this chunk's rows of the slot's [n_cand, draws] uniforms (rows past n_cand, in a
        # last partial chunk, are zeros and never accepted)
        rows = rng.uniform_rows(key, (n_cand, _candidate_draws(cfg)), first, chunk)
        cands, accept = _candidates(st, rows, slot, t, cfg, bounds, mother=mother)
        accept &= first + jnp.arange(chunk) < n_cand
        pick = jnp.argmax(accept)
        return jax.tree.map(lambda x: x[pick], cands), accept[pick]

    evaluate_first = jax.vmap(lambda st, key, t: evaluate(st, key, 0, t))
    evaluate_chunks = jax.vmap(evaluate)

    def pending(carry):
        _, found, done_chunks = carry
        return active & ~found & (done_chunks < n_chunks)

    def body(carry):
        chosen, found, done_chunks = carry
        index = jnp.nonzero(pending(carry), size=size, fill_value=batch)[0]  # [size]; batch = no scene
        safe = jnp.minimum(index, batch - 1)
        part = jax.tree.map(lambda x: x[safe], view)
        cands, ok = evaluate_chunks(part, keys[safe], done_chunks[safe] * chunk, thickness[safe])
        chosen = jax.tree.map(lambda full, new: full.at[index].set(new, mode="drop"), chosen, cands)
        return chosen, found.at[index].set(ok, mode="drop"), done_chunks.at[index].add(1, mode="drop")

    if n_chunks == 1:  # all candidates at once, no loop
        chosen, found = evaluate_first(view, keys, thickness)
    else:
        if size == batch:  # every chunk inside the loop: the candidates are traced and compiled once
            empty = jax.eval_shape(evaluate_first, view, keys, thickness)
            chosen = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), empty[0])
            carry = (chosen, jnp.zeros((batch,), bool), jnp.zeros((batch,), jnp.int32))
        else:  # the first chunk for the whole batch, then rounds of `size` scenes
            chosen, found = evaluate_first(view, keys, thickness)
            carry = (chosen, found, jnp.ones((batch,), jnp.int32))
        chosen, found, _ = jax.lax.while_loop(lambda c: jnp.any(pending(c)), body, carry)
    commit = jax.vmap(lambda st, c, ok, act, t: _commit(st, c, ok, act, slot, t, cfg, bounds))
    return commit(state, chosen, found, active, thickness)


def _commit(state, chosen, found, active, slot, thickness, cfg: GeneratorConfig, bounds):
    """Writes the chosen candidate (if ``found`` and ``active``) or an empty slot into one
    scene's state."""
    nsp = cfg.NSplinePoints
    ok = found & active
    new = dict(state)
    new["points"] = state["points"].at[slot].set(jnp.where(ok, chosen["points"], 0.0))
    new["variation"] = state["variation"].at[slot].set(jnp.where(ok, chosen["values"], 0.0))
    new["gap"] = state["gap"].at[slot].set(chosen["gaps"] & ok)
    new["valid"] = state["valid"].at[slot].set(ok)
    new["parent_slot"] = state["parent_slot"].at[slot].set(jnp.where(ok, chosen["parent_slot"], -1))
    new["parent_index"] = state["parent_index"].at[slot].set(jnp.where(ok, chosen["parent_index"], -1))
    new["failed"] = state["failed"] + (active & ~ok).astype(jnp.int32)
    if not cfg.crossingOK:
        own = footprint_mask(
            chosen["points"], jnp.broadcast_to(ok, (nsp,)), thickness, *cfg.shape, cfg.raster_halfwidth, bounds
        )
        new["footprint"] = state["footprint"] | own
    return new


def _candidates(state, u, slot, thickness, cfg: GeneratorConfig, bounds, *, mother: bool):
    """Draws and tests candidate branches of one slot of one scene.

    Args:
      state: the scene's state (dict) before the slot; with the crossing test, also its
        ``table``: the `summed_area_table` of its footprint.
      u: ``[C, S + 12]`` uniforms, one row per candidate (walk turns, start, start value,
        profile, gap).
      slot: slot index.
      thickness: the branch thickness.
      cfg: generator parameters (static).
      bounds: image part to draw on.
      mother: static, the slot holds a mother branch.

    Returns:
      ``candidates`` (dict of ``[C, ...]``: points, values, gaps, parent_slot,
      parent_index) and ``accept [C]`` bool.
    """
    n_cand, nsp, n_steps = u.shape[0], cfg.NSplinePoints, cfg.max_walk_steps
    height, width = bounds
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
            table = state["table"]
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

    candidates = dict(points=points, values=values, gaps=gaps, parent_slot=parent_slot, parent_index=parent_index)
    return candidates, accept


def _start_candidates(state, slot, cfg: GeneratorConfig, bounds) -> jax.Array:
    """``[NB, NSP]`` points a daughter in ``slot`` may start on (docs/original.md, step 1, bug B3)."""
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
    ``centre`` (docs/original.md, step 2).

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
