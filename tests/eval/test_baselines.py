"""Baselines and the end-to-end evaluation of folders and volumes (jaxaxon.eval.baselines, .report)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from jaxaxon.data.images import load_samples
from jaxaxon.eval import baselines as bl
from jaxaxon.eval.metrics import match_centres_to_boxes, threshold_sweep
from jaxaxon.eval.report import evaluate_baselines, evaluate_predictions, json_safe

SIZE = 64


def _segment_distance(shape, p0, p1):
    r, c = np.indices(shape, dtype=np.float64)
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    d = p1 - p0
    t = np.clip(((r - p0[0]) * d[0] + (c - p0[1]) * d[1]) / (d @ d), 0, 1)
    return np.hypot(r - (p0[0] + t * d[0]), c - (p0[1] + t * d[1]))


def synthetic(seed: int, shape=(SIZE, SIZE)):
    """A small surrogate: two bright lines (sigma 1, mask d < 2.7 like the generator), three blobs, noise.

    Returns:
      image float [H, W] (0..255-ish), axon mask [H, W] bool, bouton boxes [3, 4], blob centres [3, 2].
    """
    rng = np.random.default_rng(seed)
    h, w = shape
    dist = np.minimum(
        _segment_distance(shape, (rng.uniform(0, h), 0), (rng.uniform(0, h), w - 1)),
        _segment_distance(shape, (0, rng.uniform(0, w)), (h - 1, rng.uniform(0, w))),
    )
    image = 120 * np.exp(-(dist**2) / 2)
    centres = np.stack([rng.uniform(8, h - 8, 3), rng.uniform(8, w - 8, 3)], -1)
    while np.min([np.hypot(*(a - b)) for i, a in enumerate(centres) for b in centres[i + 1 :]]) < 14:
        centres = np.stack([rng.uniform(8, h - 8, 3), rng.uniform(8, w - 8, 3)], -1)
    r, c = np.indices(shape)
    for cr, cc in centres:
        image = np.maximum(image, 220 * np.exp(-((r - cr) ** 2 + (c - cc) ** 2) / (2 * 2.5**2)))
    image = image + rng.normal(0, 6, shape) + 10
    ic = np.rint(centres).astype(int)
    boxes = np.concatenate([ic - 5, ic + 6], axis=-1)
    return np.clip(image, 0, 255), dist < 2.7, boxes, centres


GOOD_LOG = bl.LogParams(min_sigma=1.5, max_sigma=4.0, threshold=0.35)  # 0.2 also fires on the lines


def test_frangi_map_finds_lines():
    image, mask, _, _ = synthetic(0)
    m = bl.frangi_map(image, bl.AXON_SIGMAS)
    assert m.dtype == np.float32 and m.shape == image.shape
    assert m.min() >= 0 and m.max() == pytest.approx(1.0)
    assert m[mask].mean() > m[~mask].mean() + 0.3
    sweep = threshold_sweep([m], [mask])
    assert sweep.summary()["dice"] > 0.6
    assert 0.05 < sweep.best_threshold < 0.95  # the log mapping puts the best cut inside the sweep
    assert not bl.frangi_map(np.full((16, 16), 7.0)).any()  # constant image: nothing


def test_unit_range():
    x = np.arange(1000, dtype=np.float64).reshape(20, 50)
    u = bl.unit_range(x)
    assert u.min() == 0 and u.max() == 1 and u[10, 0] == pytest.approx((500 - 9.99) / (998.001 - 9.99))
    assert not bl.unit_range(np.ones((3, 3))).any()


def test_log_detector_and_fit():
    images, boxes, truth = zip(*[(im, b, c) for im, _, b, c in (synthetic(s) for s in range(3))])
    for im, b, c in zip(images, boxes, truth):
        centres, sigmas = bl.detect_boutons_log(im, GOOD_LOG)
        m = match_centres_to_boxes(centres, b)
        assert (m.tp, m.fn) == (3, 0)
        for k, j in m.matches:
            assert np.hypot(*(centres[k] - c[j])) < 1.5
        assert np.all((sigmas >= 1.5) & (sigmas <= 4.0))
    grid = [
        bl.LogParams(min_sigma=1.5, max_sigma=4.0, threshold=0.01),  # detects noise too
        GOOD_LOG,
        bl.LogParams(min_sigma=1.5, max_sigma=4.0, threshold=0.9),  # detects nothing
    ]
    samples = [type("S", (), {"image": im, "boxes": b})() for im, b in zip(images, boxes)]
    params, report = bl.fit_log_detector(samples, grid)
    assert params == GOOD_LOG
    assert report["params"] == GOOD_LOG.to_dict() and [round(g["f1"], 6) for g in report["grid"]][2] == 0.0
    assert report["grid"][0]["f1"] < report["f1"]
    counts = bl.log_grid_counts(images, boxes, grid)
    assert counts.shape == (3, 3, 3) and bl.best_setting(counts) == 1
    with pytest.raises(ValueError, match="needs samples with bouton boxes"):
        bl.fit_log_detector([type("S", (), {"image": images[0], "boxes": None})()], grid)


def _write_folder(root, n=3):
    root.joinpath("images").mkdir(parents=True)
    root.joinpath("masks").mkdir()
    boxes = {}
    for i in range(n):
        image, mask, b, _ = synthetic(10 + i)
        Image.fromarray(image.astype(np.uint8)).save(root / "images" / f"im{i}.png")
        Image.fromarray(mask.astype(np.uint8) * 255).save(root / "masks" / f"im{i}.png")
        boxes[f"im{i}"] = b.tolist()
    (root / "bouton_boxes.json").write_text(json.dumps(boxes))


def test_labelled_folder_end_to_end(tmp_path):
    _write_folder(tmp_path / "data")
    samples = load_samples(tmp_path / "data")
    res = evaluate_baselines(samples, tmp_path / "out", log_params=GOOD_LOG)
    fr = json.loads((tmp_path / "out/frangi/metrics.json").read_text())
    assert fr == res["frangi"]
    for key in ("best_threshold", "dice", "cldice", "tpr", "fpr", "precision"):
        assert 0 <= fr[key] <= 1, key
    assert fr["dice"] > 0.5 and fr["n_images_with_masks"] == 3
    assert len(fr["curves"]["thresholds"]) == 200 and len(fr["curves"]["dice"]) == 200
    assert max(fr["curves"]["dice"]) == pytest.approx(fr["dice"])
    assert "bouton_f1" not in fr  # the Frangi run has no bouton detections
    for name in ("roc", "tpr_precision", "dice_threshold"):
        assert (tmp_path / f"out/frangi/plots/{name}.png").stat().st_size > 1000
    prob = np.load(tmp_path / "out/frangi/predictions/im0_prob.npy")
    np.testing.assert_allclose(prob, bl.frangi_map(samples[0].image, bl.AXON_SIGMAS))
    saved_mask = np.asarray(Image.open(tmp_path / "out/frangi/predictions/im0_mask.png")) > 0
    np.testing.assert_array_equal(saved_mask, prob > fr["best_threshold"])
    lg = json.loads((tmp_path / "out/log/metrics.json").read_text())
    assert lg["bouton_f1"] == 1.0 and lg["bouton_tp"] == 9 and lg["log_params"] == GOOD_LOG.to_dict()
    assert lg["dice"] is None  # no axon maps for the LoG run
    assert (tmp_path / "out/log/predictions/im2_boutons.png").is_file()
    summary = json.loads((tmp_path / "out/baselines.json").read_text())
    assert summary["log"]["bouton_f1"] == 1.0 and summary["frangi"]["sigmas"] == list(bl.AXON_SIGMAS)
    # fitting in-sample is recorded as such
    res = evaluate_baselines(samples, tmp_path / "out2", log_params=None, save_predictions=False)
    assert res["log"]["fit"]["on"].startswith("the evaluated samples")
    assert not (tmp_path / "out2/log/predictions").exists()


def test_volume_file_end_to_end(tmp_path):
    parts = [synthetic(20 + z) for z in range(3)]
    image = np.stack([p[0] for p in parts]).astype(np.uint8)
    mask = np.stack([p[1] for p in parts]).astype(np.uint8)
    np.savez_compressed(tmp_path / "vol.npz", image=image, mask=mask)
    samples = load_samples(tmp_path / "vol.npz")
    maps = [bl.frangi_map(s.image) for s in samples]
    res = evaluate_predictions(samples, maps, tmp_path / "out", name="frangi")
    assert res["n_images"] == 3 and [r["name"] for r in res["per_image"]] == ["vol_z000", "vol_z001", "vol_z002"]
    assert res["per_volume"]["vol"]["n_slices"] == 3
    assert res["per_volume"]["vol"]["dice"] == pytest.approx(res["dice"])
    assert res["per_volume"]["vol"]["cldice"] == pytest.approx(res["cldice"])
    assert 0.5 < res["dice"] <= 1
    # perfect predictions: Dice 1 and clDice 1 at the first threshold
    perfect = evaluate_predictions(
        samples, [s.mask.astype(np.float32) for s in samples], tmp_path / "p", save_predictions=False
    )
    assert perfect["dice"] == 1.0 and perfect["cldice"] == 1.0 and perfect["best_threshold"] == pytest.approx(0.005)
    assert perfect["tpr"] == 1.0 and perfect["fpr"] == 0.0 and perfect["precision"] == 1.0


def test_bouton_maps_and_unlabelled_samples(tmp_path):
    image, _, boxes, centres = synthetic(30)
    r, c = np.indices(image.shape)
    bmap = np.max([np.exp(-((r - a) ** 2 + (c - b) ** 2) / 8) for a, b in centres], axis=0)
    labelled = type("S", (), {"name": "x", "image": image, "mask": None, "boxes": boxes})()
    res = evaluate_predictions([labelled], [np.zeros_like(image)], tmp_path / "o", [bmap])
    assert res["dice"] is None and res["best_threshold"] is None and res["n_images_with_masks"] == 0
    assert res["bouton_f1"] == 1.0 and res["bouton_detection"]["threshold"] == 0.5
    assert res["bouton_f1_curve"]["f1"][4] == 1.0 and len(res["bouton_f1_curve"]["thresholds"]) == 9
    assert res["mask_threshold"] == 0.5
    with pytest.raises(ValueError, match="1 samples but 2 probability map"):
        evaluate_predictions([labelled], [image, image], tmp_path / "e")
    with pytest.raises(ValueError, match="x: probability map has shape"):
        evaluate_predictions([labelled], [image[:5]], tmp_path / "e")
    with pytest.raises(ValueError, match="must hold probabilities in \\[0, 1\\]"):
        evaluate_predictions([labelled], [image], tmp_path / "e")  # raw intensities, not probabilities
    with pytest.raises(ValueError, match="not both"):
        evaluate_predictions([labelled], None, tmp_path / "e", [bmap], bouton_detections=[centres])
    with pytest.raises(ValueError, match="names must be unique.*: x"):
        evaluate_predictions([labelled, labelled], None, tmp_path / "e", [bmap, bmap])
    with pytest.raises(ValueError, match="at least one sample"):
        evaluate_predictions([], [], tmp_path / "e")


def test_json_safe():
    assert json_safe({"a": np.float32(np.nan), "b": [np.int64(3), np.bool_(True)], 1: np.arange(2)}) == {
        "a": None,
        "b": [3, True],
        "1": [0, 1],
    }


def test_shared_real_baselines_run(shared_real, tmp_path):
    """One real slice of each set through the baselines: finite, sensible numbers (not a benchmark)."""
    vessel = [s for s in load_samples(shared_real / "vesselnn") if s.name == "santos2015_lowContrastVessels_z005"]
    res = evaluate_predictions(
        vessel, [bl.frangi_map(vessel[0].image, bl.VESSEL_SIGMAS)], tmp_path / "v", save_predictions=False
    )
    assert 0.3 < res["dice"] < 1 and 0.3 < res["cldice"] < 1
    with pytest.warns(UserWarning):
        bass = [s for s in load_samples(shared_real / "bass2017") if s.name == "01"]
    centres, _ = bl.detect_boutons_log(bass[0].image, bl.DEFAULT_LOG_PARAMS)
    m = match_centres_to_boxes(centres, bass[0].boxes)
    assert m.tp >= 13  # at least half of the 26 boxes


def test_bouton_min_area_per_image(tmp_path):
    image, _, boxes, centres = synthetic(30)
    r, c = np.indices(image.shape)
    bmap = np.max([np.exp(-((r - a) ** 2 + (c - b) ** 2) / 8) for a, b in centres], axis=0)  # blobs of ~20 px > 0.5
    make = lambda name: type("S", (), {"name": name, "image": image, "mask": None, "boxes": boxes})()  # noqa: E731
    res = evaluate_predictions([make("x"), make("y")], None, tmp_path / "o", [bmap, bmap], bouton_min_area=[4, 1000])
    assert res["bouton_tp"] == len(boxes) and res["bouton_fn"] == len(boxes) and res["bouton_fp"] == 0
    assert res["bouton_detection"]["min_area"] == [4, 1000]
    with pytest.raises(ValueError, match="2 samples but 1 bouton minimum areas"):
        evaluate_predictions([make("x"), make("y")], None, tmp_path / "e", [bmap, bmap], bouton_min_area=[4])
