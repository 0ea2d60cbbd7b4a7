"""Tracking metrics: the original's centreline accuracy, CLEAR-MOT / IDF1 scores, and bouton
gain/loss event scores (pure NumPy/SciPy).

Conventions shared by the scores:

- Distances are Euclidean in pixels on (row, col) points; a pair is allowed when its distance
  is at most ``gate`` (inclusive).
- Matching is optimal (``scipy.optimize.linear_sum_assignment``): the most allowed pairs,
  then the least total distance among those.
- precision ``= TP / (TP + FP)`` is NaN without predictions, recall ``= TP / (TP + FN)`` NaN
  without ground truth, F1 ``= 2 TP / (2 TP + FP + FN)`` is 1 when all counts are 0 (as in
  `jaxaxon.eval.metrics`).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree

from jaxaxon.track.tracks import Tracks

__all__ = [
    "centreline_accuracy",
    "centreline_accuracy_details",
    "event_scores",
    "match_points",
    "track_events",
    "tracking_scores",
]


def _check_gate(gate: float, name: str = "gate") -> float:
    if not (np.isfinite(gate) and gate > 0):
        raise ValueError(f"{name} must be a positive finite number, got {gate!r}")
    return float(gate)


def _points(points, name: str) -> np.ndarray:
    p = np.asarray(points, dtype=np.float64)
    if p.size == 0:
        p = p.reshape(0, 2)
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"{name} must be [N, 2] (row, col), got shape {p.shape}")
    return p


def centreline_accuracy_details(points, centrelines, valid, window: float = 5.0) -> dict:
    """The original's tracking accuracy, with the number of points it averages over.

    For each tracked centreline point: the valid ground-truth centreline points within
    ``window`` px (Euclidean, inclusive) are its candidates. Decisions (the original only says
    "distance to the line through its two nearest ground-truth points within a window"):

    - no candidate: the point is unmatched and left out of the mean (``n_matched`` counts the
      others);
    - one candidate: the distance to that point;
    - two or more: the perpendicular distance to the infinite line through the two nearest
      (ties: scipy's KD-tree order), whichever branches they lie on; if the two coincide,
      the distance to that point.

    Args:
      points: ``[N, 2]`` tracked (row, col) points.
      centrelines: ``[NB, NSP, 2]`` ground-truth centreline points (e.g. one frame of
        `SeriesBatch.centerlines`).
      valid: ``[NB, NSP]`` bool, which centreline points exist.
      window: search radius in px.

    Returns:
      ``dict(mean=float, n_points=N, n_matched=int)``; ``mean`` is NaN when no point matched.
    """
    window = _check_gate(window, "window")
    p = _points(points, "points")
    cl, ok = np.asarray(centrelines, dtype=np.float64), np.asarray(valid, dtype=bool)
    if cl.ndim != 3 or cl.shape[-1] != 2 or ok.shape != cl.shape[:2]:
        raise ValueError(f"centrelines must be [NB, NSP, 2] with valid [NB, NSP], got {cl.shape} and {ok.shape}")
    ref = cl[ok]
    if not np.all(np.isfinite(p)) or not np.all(np.isfinite(ref)):
        raise ValueError("centreline_accuracy: points and valid centreline points must be finite")
    if len(p) == 0 or len(ref) == 0:
        return dict(mean=float("nan"), n_points=len(p), n_matched=0)
    k = min(2, len(ref))
    d, idx = cKDTree(ref).query(p, k=[1, 2][:k])
    d, idx = d.reshape(len(p), k), idx.reshape(len(p), k)
    near = d <= window
    matched = near[:, 0]
    dist = d[:, 0].copy()
    if k == 2:
        two = near[:, 1]
        a, b, q = ref[idx[two, 0]], ref[idx[two, 1]], p[two]
        ab, aq = b - a, q - a
        length = np.hypot(ab[:, 0], ab[:, 1])
        cross = np.abs(ab[:, 0] * aq[:, 1] - ab[:, 1] * aq[:, 0])
        dist[two] = np.where(length > 0, cross / np.where(length > 0, length, 1.0), d[two, 0])
    n = int(matched.sum())
    return dict(mean=float(dist[matched].mean()) if n else float("nan"), n_points=len(p), n_matched=n)


def centreline_accuracy(points, centrelines, valid, window: float = 5.0) -> float:
    """Mean distance of tracked centreline points to the ground-truth centreline (px);
    see `centreline_accuracy_details` for the rule. NaN when no point has a ground-truth
    point within ``window``."""
    return centreline_accuracy_details(points, centrelines, valid, window)["mean"]


def match_points(a, b, gate: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Optimal one-to-one matching of points ``a [N, 2]`` to ``b [K, 2]`` within ``gate``.

    Returns:
      ``(ia [P], ib [P], dist [P])``: matched indices and distances, the most pairs possible,
      with the least total distance among those.
    """
    gate = _check_gate(gate)
    a, b = _points(a, "a"), _points(b, "b")
    empty = np.zeros(0, np.int64)
    if len(a) == 0 or len(b) == 0:
        return empty, empty, np.zeros(0)
    d = np.hypot(a[:, None, 0] - b[None, :, 0], a[:, None, 1] - b[None, :, 1])
    allowed = d <= gate
    # a forbidden pair costs more than any set of allowed ones: maximum count first
    big = gate * (min(len(a), len(b)) + 1) + 1.0
    ia, ib = linear_sum_assignment(np.where(allowed, d, big))
    keep = allowed[ia, ib]
    return ia[keep].astype(np.int64), ib[keep].astype(np.int64), d[ia[keep], ib[keep]]


def _rates(tp: int, fp: int, fn: int) -> dict:
    nan = float("nan")
    return dict(
        precision=tp / (tp + fp) if tp + fp else nan,
        recall=tp / (tp + fn) if tp + fn else nan,
        f1=2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0,
        tp=int(tp), fp=int(fp), fn=int(fn),
    )  # fmt: skip


def _check_pair(gt: Tracks, pred: Tracks) -> None:
    if not isinstance(gt, Tracks) or not isinstance(pred, Tracks):
        raise ValueError("gt and pred must be Tracks")
    if gt.n_frames != pred.n_frames:
        raise ValueError(f"gt and pred differ in n_frames: {gt.n_frames} vs {pred.n_frames}")


def tracking_scores(gt: Tracks, pred: Tracks, gate: float) -> dict:
    """CLEAR-MOT (Bernardin & Stiefelhagen 2008) and IDF1 (Ristani et al. 2016) scores.

    Per frame: the pairs (gt id, pred id) matched in the previous frame are kept when both
    are present and still within ``gate``; the remaining gt and pred points are matched by
    `match_points`. A match is a TP, an unmatched gt point a miss (FN), an unmatched pred
    point a FP; an identity switch is a gt track matched to another pred id than at its last
    match (any earlier frame). IDF1: gt and pred tracks are paired one-to-one to maximise
    IDTP, the number of frames where both are present within ``gate``.

    Args:
      gt: ground-truth tracks; pred: predicted tracks, same ``n_frames``.
      gate: largest matching distance in px.

    Returns:
      dict with ``mota = 1 - (fn + fp + id_switches) / n_gt`` (NaN when ``n_gt == 0``),
      ``motp`` (mean matched distance, px; NaN without matches), ``precision``, ``recall``,
      ``f1``, ``id_switches``, ``tp``, ``fp``, ``fn``, ``n_gt``, ``n_pred`` (observations),
      ``n_gt_tracks``, ``n_pred_tracks``, ``idf1 = 2 IDTP / (n_gt + n_pred)`` (NaN when
      both are 0), ``idp = IDTP / n_pred``, ``idr = IDTP / n_gt`` (NaN on a zero denominator).
    """
    _check_pair(gt, pred)
    gate = _check_gate(gate)
    gt_ids, pred_ids = gt.ids, pred.ids
    idtp = np.zeros((len(gt_ids), len(pred_ids)), np.int64)
    tp = fp = fn = idsw = 0
    dist_sum = 0.0
    last: dict[int, int] = {}  # gt id -> pred id at its last match
    prev: dict[int, int] = {}  # matches of the previous frame
    for t in range(gt.n_frames):
        g_id, g_pt = gt.in_frame(t)
        p_id, p_pt = pred.in_frame(t)
        d = np.hypot(g_pt[:, None, 0] - p_pt[None, :, 0], g_pt[:, None, 1] - p_pt[None, :, 1])
        idtp[np.ix_(np.searchsorted(gt_ids, g_id), np.searchsorted(pred_ids, p_id))] += d <= gate
        g_row = {int(i): k for k, i in enumerate(g_id)}
        p_col = {int(i): k for k, i in enumerate(p_id)}
        kept = [(g_row[g], p_col[p]) for g, p in prev.items() if g in g_row and p in p_col]
        pairs = [(i, j) for i, j in kept if d[i, j] <= gate]
        free_g = np.setdiff1d(np.arange(len(g_id)), [i for i, _ in pairs])
        free_p = np.setdiff1d(np.arange(len(p_id)), [j for _, j in pairs])
        ia, ib, _ = match_points(g_pt[free_g], p_pt[free_p], gate)
        pairs += list(zip(free_g[ia].tolist(), free_p[ib].tolist()))
        prev = {}
        for i, j in pairs:
            g, p = int(g_id[i]), int(p_id[j])
            idsw += g in last and last[g] != p
            last[g] = prev[g] = p
            dist_sum += d[i, j]
        tp += len(pairs)
        fn += len(g_id) - len(pairs)
        fp += len(p_id) - len(pairs)
    n_gt, n_pred = len(gt), len(pred)
    nan = float("nan")
    if idtp.size:
        r, c = linear_sum_assignment(idtp, maximize=True)
        id_tp = int(idtp[r, c].sum())
    else:
        id_tp = 0
    return dict(
        mota=1.0 - (fn + fp + idsw) / n_gt if n_gt else nan,
        motp=float(dist_sum / tp) if tp else nan,
        **_rates(tp, fp, fn),
        id_switches=int(idsw), n_gt=n_gt, n_pred=n_pred,
        n_gt_tracks=len(gt_ids), n_pred_tracks=len(pred_ids),
        idf1=2 * id_tp / (n_gt + n_pred) if n_gt + n_pred else nan,
        idp=id_tp / n_pred if n_pred else nan,
        idr=id_tp / n_gt if n_gt else nan,
    )  # fmt: skip


def track_events(tracks: Tracks) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Gain and loss events of every track between consecutive frames.

    A gain at frame ``t >= 1``: the track is present in ``t``, absent in ``t - 1``; located at
    its point in ``t``. A loss at frame ``t >= 1``: present in ``t - 1``, absent in ``t``;
    located at its point in ``t - 1``. Tracks present in frame 0 (or in the last frame) give
    no gain (loss) there; a track that vanishes and returns gives a loss, then a gain.

    Returns:
      ``{"gain": (frame [E], track_id [E], points [E, 2]), "loss": (...)}``.
    """
    events: dict[str, list] = {"gain": [], "loss": []}
    for t in range(1, tracks.n_frames):
        before, p_before = tracks.in_frame(t - 1)
        now, p_now = tracks.in_frame(t)
        for kind, ids, pts, other in (("gain", now, p_now, before), ("loss", before, p_before, now)):
            new = ~np.isin(ids, other)
            events[kind] += [(t, int(i), pt) for i, pt in zip(ids[new], pts[new])]
    return {
        kind: (
            np.array([e[0] for e in ev], np.int64),
            np.array([e[1] for e in ev], np.int64),
            np.array([e[2] for e in ev], np.float64).reshape(-1, 2),
        )
        for kind, ev in events.items()
    }


def event_scores(gt: Tracks, pred: Tracks, gate: float) -> dict:
    """Scores predicted bouton gain/loss events (`track_events`) against the ground truth.

    Per kind and frame, predicted events are matched to ground-truth events of the same kind
    and frame by `match_points` within ``gate``; track ids play no role.

    Returns:
      ``{"gain": {...}, "loss": {...}, "events": {...}}``, each with ``precision``,
      ``recall``, ``f1``, ``tp``, ``fp``, ``fn``, ``n_gt``, ``n_pred`` (event counts);
      ``events`` pools the counts of both kinds.
    """
    _check_pair(gt, pred)
    gate = _check_gate(gate)
    ev_gt, ev_pred = track_events(gt), track_events(pred)
    out, total = {}, np.zeros(3, np.int64)
    for kind in ("gain", "loss"):
        (fg, _, pg), (fp_, _, pp) = ev_gt[kind], ev_pred[kind]
        tp = sum(len(match_points(pg[fg == t], pp[fp_ == t], gate)[0]) for t in np.union1d(fg, fp_))
        counts = np.array([tp, len(fp_) - tp, len(fg) - tp])
        total += counts
        out[kind] = dict(_rates(*counts), n_gt=len(fg), n_pred=len(fp_))
    out["events"] = dict(_rates(*total), n_gt=int(total[0] + total[2]), n_pred=int(total[0] + total[1]))
    return out
