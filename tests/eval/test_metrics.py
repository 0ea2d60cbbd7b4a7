"""Metrics against hand-computed values (jaxaxon.eval.metrics)."""

from __future__ import annotations

import numpy as np
import pytest

from jaxaxon.eval.metrics import (
    THRESHOLDS,
    DetectionCounts,
    bouton_centres,
    boxes_from_centres,
    boxes_from_label,
    boxes_from_mask,
    cldice,
    confusion_counts,
    detection_scores,
    dice,
    match_centres_to_boxes,
    pixel_rates,
    threshold_sweep,
)

# 3x3 example: mask has 4 positives, 5 negatives.
PROB = np.array([[0.9, 0.8, 0.1], [0.6, 0.3, 0.2], [0.05, 0.7, 0.4]])
MASK = np.array([[1, 1, 0], [1, 0, 0], [0, 0, 1]], bool)


def test_thresholds_are_the_originals():
    assert THRESHOLDS.shape == (200,)
    assert THRESHOLDS[0] == pytest.approx(0.005) and THRESHOLDS[-1] == pytest.approx(0.995)
    np.testing.assert_allclose(np.diff(THRESHOLDS), 0.99 / 199)


def test_confusion_counts_by_hand():
    # t=0.5: predicted {0.9, 0.8, 0.6, 0.7}; positives 0.9 0.8 0.6 0.4 -> TP 3, FN 1; FP 1 (0.7); TN 4
    # t=0.35: adds 0.4 (TP) -> TP 4, FP 1; t=0.8 (strict >): only 0.9 -> TP 1, FP 0
    counts = confusion_counts(PROB, MASK, np.array([0.5, 0.35, 0.8, 0.0, 1.0]))
    np.testing.assert_array_equal(counts, [[3, 1, 1, 4], [4, 1, 0, 4], [1, 0, 3, 5], [4, 5, 0, 0], [0, 0, 4, 5]])
    r = pixel_rates(counts[0])
    assert r["dice"] == pytest.approx(6 / 8)
    assert r["tpr"] == pytest.approx(3 / 4)
    assert r["fpr"] == pytest.approx(1 / 5)
    assert r["precision"] == pytest.approx(3 / 4)
    assert dice(PROB > 0.5, MASK) == pytest.approx(6 / 8)


def test_empty_conventions():
    empty = np.zeros((2, 2), bool)
    full = np.ones((2, 2), bool)
    # both empty: Dice 1, TPR undefined, FPR 0, precision undefined
    r = pixel_rates(confusion_counts(np.zeros((2, 2)), empty, np.array([0.5]))[0])
    assert r["dice"] == 1.0 and np.isnan(r["tpr"]) and r["fpr"] == 0.0 and np.isnan(r["precision"])
    # empty mask, something predicted: Dice 0, precision 0
    r = pixel_rates(confusion_counts(np.ones((2, 2)), empty, np.array([0.5]))[0])
    assert r["dice"] == 0.0 and r["precision"] == 0.0 and r["fpr"] == 1.0
    # full mask: FPR undefined
    r = pixel_rates(confusion_counts(np.ones((2, 2)), full, np.array([0.5]))[0])
    assert r["dice"] == 1.0 and np.isnan(r["fpr"]) and r["tpr"] == 1.0
    assert dice(empty, empty) == 1.0 and dice(full, empty) == 0.0


def test_threshold_sweep_means_skip_undefined_values():
    # image 1 = the 3x3 example; image 2 (2x2) has an empty mask and predicts one pixel above 0.5
    p2, m2 = np.array([[0.7, 0.2], [0.1, 0.0]]), np.zeros((2, 2), bool)
    sweep = threshold_sweep([PROB, p2], [MASK, m2], np.array([0.5, 0.75]), names=["one", "two"])
    mean = sweep.mean
    # t=0.5: Dice (0.75 + 0) / 2; TPR only image 1 (0.75); FPR (0.2 + 0.25) / 2; precision (0.75 + 0) / 2
    np.testing.assert_allclose([mean[k][0] for k in ("dice", "tpr", "fpr", "precision")], [0.375, 0.75, 0.225, 0.375])
    # t=0.75: image 1 TP 2 (0.9, 0.8), FP 0, FN 2 -> Dice 4/6; image 2 nothing predicted -> Dice 1, precision NaN
    np.testing.assert_allclose(mean["dice"][1], (4 / 6 + 1) / 2)
    np.testing.assert_allclose(mean["precision"][1], 1.0)  # only image 1 defines it
    assert sweep.best_threshold == 0.75 and sweep.best_index == 1
    # pooled: t=0.5 sums TP 3, FP 2, FN 1 -> 6/9
    assert sweep.pooled["dice"][0] == pytest.approx(6 / 9)
    s = sweep.summary()
    assert s["best_threshold"] == 0.75 and s["dice"] == pytest.approx(5 / 6)
    assert sweep.curves()["thresholds"] == [0.5, 0.75]


def test_best_threshold_ties_take_the_lowest_and_errors():
    mask = np.array([[1, 0]], bool)
    prob = np.array([[0.9, 0.1]])
    sweep = threshold_sweep([prob], [mask])
    assert sweep.best_threshold == pytest.approx(0.005 + 0.99 / 199 * 20)  # first t >= 0.1 (strict >)
    with pytest.raises(ValueError, match="differs from mask shape"):
        threshold_sweep([prob], [np.zeros((2, 2), bool)])
    with pytest.raises(ValueError, match="at least one image"):
        threshold_sweep([], [])


def test_cldice_on_drawn_lines():
    label = np.zeros((12, 24), bool)
    label[5, 2:22] = True  # a 1-px line of 20 px: its own skeleton
    assert cldice(label, label) == 1.0
    pred = np.zeros_like(label)
    pred[5, 2:12] = True  # half the line: Tprec = 10/10, Tsens = 10/20 -> 2 * 1 * 0.5 / 1.5
    assert cldice(pred, label) == pytest.approx(2 / 3)
    # a prediction 5 px thick around the line: Dice punishes the thickness, clDice barely does
    thick = np.zeros_like(label)
    thick[3:8, 2:22] = True
    assert dice(thick, label) == pytest.approx(2 * 20 / 120)
    assert cldice(thick, label) > 0.9
    # a disjoint line: no overlap of skeletons with the other mask
    other = np.zeros_like(label)
    other[9, 2:22] = True
    assert cldice(other, label) == 0.0
    # diagonal 1-px line, 8-connected, shifted half out: Tprec = 5/10, Tsens = 5/10
    diag = np.zeros((12, 12), bool)
    diag[np.arange(10), np.arange(10)] = True
    diag2 = np.zeros_like(diag)
    diag2[np.arange(5, 10), np.arange(5, 10)] = True
    diag2[np.arange(5), np.arange(5) + 2] = True
    assert cldice(diag2, diag) == pytest.approx(0.5)
    # empty conventions
    empty = np.zeros_like(label)
    assert cldice(empty, empty) == 1.0 and cldice(empty, label) == 0.0 and cldice(label, empty) == 0.0


BOXES = np.array(
    [
        [0, 0, 10, 10],  # 0
        [20, 20, 30, 30],  # 1
        [24, 24, 34, 34],  # 2, overlaps 1
        [50, 50, 60, 60],  # 3, never hit
    ]
)


def test_matching_with_double_hits_and_misses():
    centres = np.array(
        [
            [5.0, 5.0],  # hits box 0
            [6.0, 6.0],  # second centre in box 0: double hit -> FP
            [26.0, 26.0],  # inside 1 and 2: nearest box centre is box 1 ((24.5, 24.5) vs (28.5, 28.5))
            [27.0, 27.0],  # inside 1 and 2, 1 taken -> box 2
            [40.0, 40.0],  # no box -> FP
        ]
    )
    c = match_centres_to_boxes(centres, BOXES)
    assert (c.tp, c.fp, c.fn) == (3, 2, 1)
    np.testing.assert_array_equal(c.matches, [[0, 0], [2, 1], [3, 2]])
    s = detection_scores(c)
    assert s["precision"] == pytest.approx(3 / 5) and s["recall"] == pytest.approx(3 / 4)
    assert s["f1"] == pytest.approx(6 / 9)
    # scores decide the order: the second centre in box 0 matches first when it scores higher
    c = match_centres_to_boxes(centres[:2], BOXES, scores=np.array([0.1, 0.9]))
    np.testing.assert_array_equal(c.matches, [[1, 0]])
    # greedy, not optimal: a centre in boxes 1 and 2 takes box 1 (nearer); a later one only in 1 misses
    c = match_centres_to_boxes(np.array([[25.0, 25.0], [21.0, 21.0]]), BOXES)
    assert (c.tp, c.fp) == (1, 1)


def test_box_edges_are_half_open_and_margin():
    box = np.array([[10, 10, 20, 20]])
    # pixel 19 is in, pixel 20 is not; a centre at 19.49 rounds to 19, at 19.5 to 20
    assert match_centres_to_boxes(np.array([[19.49, 15.0]]), box).tp == 1
    assert match_centres_to_boxes(np.array([[19.5, 15.0]]), box).tp == 0
    assert match_centres_to_boxes(np.array([[9.5, 15.0]]), box).tp == 1
    assert match_centres_to_boxes(np.array([[9.49, 15.0]]), box).tp == 0
    assert match_centres_to_boxes(np.array([[21.0, 15.0]]), box, margin=2).tp == 1
    # nothing to match
    c = match_centres_to_boxes(np.zeros((0, 2)), box)
    assert (c.tp, c.fp, c.fn) == (0, 0, 1)
    s = detection_scores(c)
    assert np.isnan(s["precision"]) and s["recall"] == 0 and s["f1"] == 0
    assert detection_scores(DetectionCounts(0, 0, 0))["f1"] == 1.0
    assert (DetectionCounts(1, 2, 3) + DetectionCounts(1, 1, 1)).fn == 4


def _blob(shape, centre, sigma=1.5, peak=1.0):
    r, c = np.indices(shape)
    return peak * np.exp(-((r - centre[0]) ** 2 + (c - centre[1]) ** 2) / (2 * sigma**2))


def test_bouton_centres_components_and_peaks():
    prob = np.maximum(_blob((40, 40), (10, 12)), _blob((40, 40), (30, 25.5), peak=0.8))
    prob[2, 38] = 0.95  # a one-pixel speck, removed by min_area
    centres, scores = bouton_centres(prob, threshold=0.5, min_area=4)
    np.testing.assert_allclose(centres, [[10, 12], [30, 25.5]], atol=1e-6)
    np.testing.assert_allclose(scores, [1.0, prob[30, 25]])
    assert len(bouton_centres(prob, threshold=0.5, min_area=1)[0]) == 3
    # two touching blobs: one component, two peaks
    touching = np.maximum(_blob((30, 30), (15, 11), 2.0), _blob((30, 30), (15, 18), 2.0))
    assert len(bouton_centres(touching, 0.3)[0]) == 1
    peaks, _ = bouton_centres(touching, 0.3, min_distance=3)
    np.testing.assert_array_equal(sorted(peaks.tolist()), [[15, 11], [15, 18]])
    assert bouton_centres(np.zeros((5, 5)))[0].shape == (0, 2)


def test_boxes_for_synthetic_data():
    label = np.zeros((20, 20), np.int32)
    label[2:5, 3:7] = 1
    label[10:12, 15:20] = 3  # label 2 missing: skipped
    np.testing.assert_array_equal(boxes_from_label(label), [[2, 3, 5, 7], [10, 15, 12, 20]])
    np.testing.assert_array_equal(boxes_from_label(label, pad=3), [[0, 0, 8, 10], [7, 12, 15, 20]])
    np.testing.assert_array_equal(boxes_from_mask(label > 0), [[2, 3, 5, 7], [10, 15, 12, 20]])
    boxes = boxes_from_centres(
        np.array([[5.2, 5.0], [0.0, 19.0], [50.0, 50.0]]), np.array([2, 3, 2]), (20, 20), valid=np.array([1, 1, 0])
    )
    np.testing.assert_array_equal(boxes, [[3, 3, 8, 8], [0, 16, 4, 20]])
    with pytest.raises(ValueError, match="integer label"):
        boxes_from_label(np.zeros((3, 3), np.float32))
