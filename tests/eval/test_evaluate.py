"""`jaxaxon evaluate` / `jaxaxon predict` end to end on tiny data with the shared tiny run."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest
import tifffile
from PIL import Image

import jaxaxon
from jaxaxon.cli import main
from jaxaxon.data.images import ImageDataError
from jaxaxon.eval.evaluate import evaluate_checkpoint, load_labelled, model_tiling, predict_folder, probability_maps
from jaxaxon.eval.inference import TilingConfig
from jaxaxon.train.checkpoint import CheckpointError
from jaxaxon.train.inference import load_model

REQUIRED = ("best_threshold", "dice", "cldice", "tpr", "fpr", "precision")


@pytest.fixture(scope="module")
def generated(small_cfg):
    return jaxaxon.generate(jax.random.key(123), small_cfg, 8, 0)


@pytest.fixture(scope="module")
def labelled_folder(tmp_path_factory, generated):
    """images/, masks/ and bouton_boxes.json made from generated images."""
    from jaxaxon.eval.metrics import boxes_from_label

    root = tmp_path_factory.mktemp("labelled")
    (root / "images").mkdir()
    (root / "masks").mkdir()
    boxes = {}
    for i in range(3):
        name = f"img{i}"
        Image.fromarray(np.asarray(generated.image[i]).astype(np.uint8)).save(root / "images" / f"{name}.png")
        Image.fromarray(np.asarray(generated.axon_mask[i]).astype(np.uint8) * 255).save(root / "masks" / f"{name}.png")
        boxes[name] = boxes_from_label(np.asarray(generated.bouton_label[i]), pad=2).tolist()
    (root / "bouton_boxes.json").write_text(json.dumps(boxes))
    return root


def test_evaluate_labelled_folder_end_to_end(tiny_run, labelled_folder, tmp_path):
    workdir, _ = tiny_run
    out = tmp_path / "eval"
    metrics = evaluate_checkpoint(workdir, labelled_folder, out, baselines=True)
    for key in REQUIRED:
        assert key in metrics
    assert 0.005 <= metrics["best_threshold"] <= 0.995
    assert 0.0 <= metrics["dice"] <= 1.0 and 0.0 <= metrics["cldice"] <= 1.0
    on_disk = json.loads((out / "metrics.json").read_text())
    assert on_disk["dice"] == pytest.approx(metrics["dice"])
    assert set(on_disk["baselines"]) >= {"frangi"}
    assert 0.0 <= on_disk["baselines"]["frangi"]["dice"] <= 1.0
    assert list((out / "plots").glob("*.png")), "no plots written"
    assert list((out / "predictions").glob("*_prob.npy")), "no predictions written"


def test_evaluate_volume_file_slice_by_slice(tiny_run, generated, tmp_path):
    workdir, _ = tiny_run
    volume = tmp_path / "stack.npz"
    np.savez(
        volume,
        image=np.asarray(generated.image[:3]).astype(np.uint8),
        mask=np.asarray(generated.axon_mask[:3]).astype(np.uint8),
    )
    metrics = evaluate_checkpoint(workdir, volume, tmp_path / "out")
    assert metrics["n_images"] == 3 and metrics["n_images_with_masks"] == 3
    assert metrics["per_volume"]["stack"]["n_slices"] == 3
    per_image = metrics["per_image"]
    names = [row["name"] for row in per_image] if isinstance(per_image, list) else list(per_image)
    assert sorted(names) == ["stack_z000", "stack_z001", "stack_z002"]


def test_evaluate_a_generated_dataset_with_bouton_boxes(tiny_run, small_cfg, tmp_path):
    from jaxaxon.data import write_dataset

    workdir, _ = tiny_run
    path = tmp_path / "val.zarr"
    write_dataset(path, small_cfg, 4, seed=5, batch_size=4)
    samples = load_labelled(path)
    assert len(samples) == 4 and all(s.mask is not None and s.boxes is not None for s in samples)
    direct = jaxaxon.generate(jax.random.key(5), small_cfg, 4, 0)
    np.testing.assert_array_equal(samples[2].image, np.asarray(direct.image[2]))
    np.testing.assert_array_equal(samples[2].mask, np.asarray(direct.axon_mask[2]))
    assert len(samples[2].boxes) == int(np.asarray(direct.bouton_valid[2]).sum())
    rc = main(["evaluate", "--checkpoint", str(workdir), "--data", str(path), "--out", str(tmp_path / "e")])
    assert rc == 0
    assert json.loads((tmp_path / "e" / "metrics.json").read_text())["dice"] >= 0.0


def test_sliding_windows_equal_whole_image_inference(tiny_run, generated):
    model, rc = load_model(tiny_run[0])
    image = np.asarray(generated.image[0])
    auto = model_tiling(rc)
    whole = probability_maps(model, rc, [image], auto)[0]
    tiled_cfg = TilingConfig(divisor=auto.divisor, context=auto.context, tile=auto.context * 2 + 16, overlap=8,
                             max_whole_pixels=0)  # fmt: skip
    tiled = probability_maps(model, rc, [image], tiled_cfg)[0]
    assert whole.shape == (*image.shape, 1)
    np.testing.assert_allclose(tiled, whole, atol=1e-5)


def test_predict_folder_any_size(tiny_run, generated, tmp_path):
    src = tmp_path / "new"
    src.mkdir()
    Image.fromarray(np.asarray(generated.image[0]).astype(np.uint8)[:50, :37]).save(src / "small.png")
    np.save(src / "big.npy", np.tile(np.asarray(generated.image[1]), (2, 1)).astype(np.uint16))
    written = predict_folder(tiny_run[0], src, tmp_path / "pred", threshold=0.3)
    shapes = {p.name: tifffile.imread(p).shape for p in written}
    assert shapes == {"small_axon_prob.ome.tif": (50, 37), "big_axon_prob.ome.tif": (128, 64)}
    for p in written:
        prob = tifffile.imread(p)
        assert prob.dtype == np.float32 and prob.min() >= 0 and prob.max() <= 1
        mask = tifffile.imread(str(p).replace("_prob.ome.tif", "_mask.ome.tif"))
        assert mask.dtype == np.uint8
        np.testing.assert_array_equal(mask, prob > 0.3)
        preview = np.asarray(Image.open(str(p).replace("_prob.ome.tif", "_mask.png")))
        np.testing.assert_array_equal(preview, (prob > 0.3) * 255)
    assert main(["predict", "--checkpoint", str(tiny_run[0]), "--input", str(src), "--out", str(tmp_path / "p2")]) == 0


def test_bad_inputs_give_clear_errors(tiny_run, labelled_folder, tmp_path, capsys):
    with pytest.raises(CheckpointError):
        evaluate_checkpoint(tmp_path / "missing", labelled_folder, tmp_path / "o")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ImageDataError):
        predict_folder(tiny_run[0], empty, tmp_path / "o2")
    bad = tmp_path / "bad"
    (bad / "images").mkdir(parents=True)
    (bad / "masks").mkdir()
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(bad / "images" / "a.png")
    Image.fromarray(np.zeros((21, 20), np.uint8)).save(bad / "masks" / "a.png")
    with pytest.raises(ImageDataError, match="size|shape"):
        evaluate_checkpoint(tiny_run[0], bad, tmp_path / "o3")
    assert main(["evaluate", "--checkpoint", str(tmp_path / "missing"), "--data", str(labelled_folder), "--out", str(tmp_path / "o4")]) == 2
    assert "error" in capsys.readouterr().err
    with pytest.raises(ValueError, match="threshold"):
        predict_folder(tiny_run[0], labelled_folder / "images", tmp_path / "o5", threshold=2.0)


# --- physical scale: --scale / --pixel-size / TIFF metadata ------------------------------------


def test_evaluate_with_scale_resamples_and_scores_at_the_images_grid(tiny_run, labelled_folder, generated, tmp_path):
    from jaxaxon.eval.scale import resample, resample_back

    workdir, _ = tiny_run
    out = tmp_path / "half"
    assert main(["evaluate", "--checkpoint", str(workdir), "--data", str(labelled_folder), "--out", str(out),
                 "--scale", "0.5"]) == 0  # fmt: skip
    metrics = json.loads((out / "metrics.json").read_text())
    scale = metrics["input_scale"]
    assert (scale["zoom"], scale["source"]) == (0.5, "flag")
    assert set(scale["per_image"]) == {"img0", "img1", "img2"}
    assert 0.0 <= metrics["dice"] <= 1.0
    saved = sorted((out / "predictions").glob("*_prob.npy"))
    assert saved and all(np.load(p).shape == (64, 64) for p in saved)
    model, rc = load_model(workdir)
    image = np.asarray(generated.image[0]).astype(np.float32)
    direct = probability_maps(model, rc, [image], zooms=[0.5])[0]
    by_hand = resample_back(probability_maps(model, rc, [resample(image, 0.5)])[0], image.shape)
    assert direct.shape == (64, 64, 1)
    np.testing.assert_allclose(direct, by_hand, atol=1e-6)
    np.testing.assert_array_equal(probability_maps(model, rc, [image], zooms=[1.0])[0],
                                  probability_maps(model, rc, [image])[0])  # fmt: skip


def test_predict_with_scale_writes_maps_at_the_input_size(tiny_run, generated, tmp_path):
    src = tmp_path / "new"
    src.mkdir()
    Image.fromarray(np.asarray(generated.image[0]).astype(np.uint8)[:50, :37]).save(src / "small.png")
    out = tmp_path / "pred"
    assert main(["predict", "--checkpoint", str(tiny_run[0]), "--input", str(src), "--out", str(out),
                 "--scale", "0.5"]) == 0  # fmt: skip
    assert tifffile.imread(out / "small_axon_prob.ome.tif").shape == (50, 37)
    record = json.loads((out / "predictions.json").read_text())["input_scale"]
    assert (record["zoom"], record["source"], record["run_pixel_size"]) == (0.5, "flag", 0.0)
    plain = predict_folder(tiny_run[0], src, tmp_path / "plain")
    assert json.loads((tmp_path / "plain" / "predictions.json").read_text())["input_scale"]["source"] == "run"
    assert tifffile.imread(plain[0]).shape == (50, 37)


def test_pixel_size_from_metadata_flag_or_neither(tiny_run, generated, tmp_path, monkeypatch, capsys):
    import jaxaxon.train.inference as inference

    src = tmp_path / "tif"
    src.mkdir()
    image = np.asarray(generated.image[1]).astype(np.uint16)
    tifffile.imwrite(src / "a.tif", image, imagej=True, resolution=(1 / 0.8, 1 / 0.8), metadata={"unit": "um"})
    # the tiny run's pixel size is unknown: the file's metadata is ignored, --pixel-size refused in one line
    predict_folder(tiny_run[0], src, tmp_path / "p0")
    record = json.loads((tmp_path / "p0" / "predictions.json").read_text())["input_scale"]
    assert (record["zoom"], record["source"]) == (1.0, "run")
    argv = ["predict", "--checkpoint", str(tiny_run[0]), "--input", str(src), "--out", str(tmp_path / "p1")]
    assert main(argv + ["--pixel-size", "0.4"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("jaxaxon predict: error:") and "--scale" in err and "\n" not in err
    # a run trained at 0.4 um/px: the file's 0.8 um/px doubles the image, --pixel-size overrides it
    load = inference.load_model

    def known(path):
        model, rc = load(path)
        return model, rc.replace(generator=rc.generator.replace(pixel_size=0.4))

    monkeypatch.setattr(inference, "load_model", known)
    predict_folder(tiny_run[0], src, tmp_path / "p2")
    record = json.loads((tmp_path / "p2" / "predictions.json").read_text())["input_scale"]
    expected = {"zoom": pytest.approx(2.0), "source": "metadata", "pixel_size": pytest.approx(0.8)}
    assert record["per_image"]["a"] == expected
    assert tifffile.imread(tmp_path / "p2" / "a_axon_prob.ome.tif").shape == image.shape
    (src / "masks").mkdir()  # evaluate needs labels
    Image.fromarray(np.asarray(generated.axon_mask[1]).astype(np.uint8)).save(src / "masks" / "a.png")
    metrics = evaluate_checkpoint(tiny_run[0], src, tmp_path / "e", pixel_size=0.2)
    assert (metrics["input_scale"]["zoom"], metrics["input_scale"]["source"]) == (pytest.approx(0.5), "flag")


@pytest.mark.parametrize("extra", [["--scale", "0"], ["--scale", "-2"], ["--pixel-size", "inf"], ["--scale", "x"],
                                   ["--scale", "0.5", "--pixel-size", "0.4"]])  # fmt: skip
def test_scale_options_refuse_bad_values(tmp_path, capsys, extra):
    for argv in (["predict", "--input", "x"], ["evaluate", "--data", "x"]):
        with pytest.raises(SystemExit) as stop:
            main(argv + ["--checkpoint", "c", "--out", str(tmp_path / "o")] + extra)
        assert stop.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert err.startswith(f"jaxaxon {argv[0]}: error: argument --")


# --- every input accounted for, finite numbers, one-line argument errors -----------------------


def _u8(generated, i):
    return np.asarray(generated.image[i]).astype(np.uint8)


def test_predict_reads_every_image_and_volume_and_names_what_it_skips(tiny_run, generated, tmp_path, capsys):
    src = tmp_path / "mix"
    src.mkdir()
    Image.fromarray(_u8(generated, 0)).save(src / "a.png")
    Image.fromarray(_u8(generated, 1)).save(src / "b.png")
    Image.fromarray(_u8(generated, 2)).save(src / "c.bmp")
    np.savez(src / "vol.npz", image=np.stack([_u8(generated, i) for i in range(3)]))
    out = tmp_path / "pred"
    assert main(["predict", "--checkpoint", str(tiny_run[0]), "--input", str(src), "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        "found 2 PNG, 1 volume (.npz, 3 slices): 5 images; skipped c.bmp (unsupported file type '.bmp'); "
        "supported inputs: .png, .tif, .tiff, .npy, .jpg, .jpeg, .npz"
    )
    assert lines[-1].startswith("wrote 5 probability maps")
    names = ["a", "b", "vol_z000", "vol_z001", "vol_z002"]
    assert sorted(p.name for p in out.glob("*_prob.ome.tif")) == [f"{n}_axon_prob.ome.tif" for n in names]
    assert len(list(out.iterdir())) == 4 * 5 + 1
    record = json.loads((out / "predictions.json").read_text())
    assert [f["name"] for f in record["files"]] == names
    assert record["inputs"]["skipped"] == ["c.bmp (unsupported file type '.bmp')"]
    # a volume slice is the same map as the image it was cut from
    np.testing.assert_array_equal(tifffile.imread(out / "vol_z001_axon_prob.ome.tif"),
                                  tifffile.imread(out / "b_axon_prob.ome.tif"))  # fmt: skip


def test_predict_refuses_outputs_that_would_share_a_file_before_writing(tiny_run, generated, tmp_path, capsys):
    src = tmp_path / "coll"
    (src / "images").mkdir(parents=True)
    Image.fromarray(_u8(generated, 0)).save(src / "images" / "vol_z000.png")
    np.savez(src / "vol.npz", image=np.stack([_u8(generated, 1), _u8(generated, 2)]))
    out = tmp_path / "pred"
    assert main(["predict", "--checkpoint", str(tiny_run[0]), "--input", str(src), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("jaxaxon predict: error: ") and "\n" not in err
    assert "images/vol_z000.png and slice 0 of vol.npz are both named 'vol_z000'" in err
    assert not out.exists()
    # names that differ only in letter case would share a file on macOS and Windows
    case = tmp_path / "case"
    case.mkdir()
    Image.fromarray(_u8(generated, 0)).save(case / "A.png")
    Image.fromarray(_u8(generated, 1)).save(case / "a.png")
    with pytest.raises(ImageDataError, match="differ only in letter case"):
        predict_folder(tiny_run[0], case, out)
    assert not out.exists()
    # an output that would replace an input (an old map in the input folder, --out the same folder)
    same = tmp_path / "same"
    same.mkdir()
    Image.fromarray(_u8(generated, 0)).save(same / "x.png")
    tifffile.imwrite(same / "x_axon_prob.ome.tif", np.zeros((8, 8), np.float32))
    before = (same / "x_axon_prob.ome.tif").read_bytes()
    with pytest.raises(ImageDataError, match="x_axon_prob.ome.tif: is an input"):
        predict_folder(tiny_run[0], same, same)
    assert (same / "x_axon_prob.ome.tif").read_bytes() == before and sorted(p.name for p in same.iterdir()) == [
        "x.png", "x_axon_prob.ome.tif"
    ]


def test_predict_on_values_near_1e300_gives_the_maps_of_the_plain_image(tiny_run, generated, tmp_path):
    src = tmp_path / "big"
    src.mkdir()
    image = np.asarray(generated.image[0]).astype(np.float64)
    np.save(src / "plain.npy", image)
    np.save(src / "huge.npy", image * 1e298)
    written = {p.name: tifffile.imread(p) for p in predict_folder(tiny_run[0], src, tmp_path / "pred")}
    assert np.all(np.isfinite(written["huge_axon_prob.ome.tif"]))
    np.testing.assert_allclose(written["huge_axon_prob.ome.tif"], written["plain_axon_prob.ome.tif"], atol=1e-5)


def test_a_non_finite_output_is_an_error_not_a_file(tiny_run, generated, tmp_path, monkeypatch, capsys):
    from flax import nnx

    import jaxaxon.train.inference as inference

    load = inference.load_model

    def diverged(path):
        model, rc = load(path)
        graphdef, state = nnx.split(model)
        return nnx.merge(graphdef, jax.tree.map(lambda w: w * np.nan, state)), rc

    monkeypatch.setattr(inference, "load_model", diverged)
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(_u8(generated, 0)).save(src / "a.png")
    out = tmp_path / "pred"
    assert main(["predict", "--checkpoint", str(tiny_run[0]), "--input", str(src), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"output for {src / 'a.png'} is not finite" in err and "weights" in err
    assert not out.exists()


def test_non_finite_input_pixels_are_a_one_line_error(tiny_run, tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    image = np.ones((16, 16))
    image[2, 2] = np.nan
    np.save(src / "x.npy", image)
    assert main(["predict", "--checkpoint", str(tiny_run[0]), "--input", str(src), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"jaxaxon predict: error: {src / 'x.npy'}: contains NaN or infinite values"


def test_evaluate_on_unlabelled_images_is_an_error_pointing_to_predict(tiny_run, generated, tmp_path, capsys):
    src = tmp_path / "plain"
    src.mkdir()
    Image.fromarray(_u8(generated, 0)).save(src / "a.png")
    out = tmp_path / "eval"
    assert main(["evaluate", "--checkpoint", str(tiny_run[0]), "--data", str(src), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("jaxaxon evaluate: error: ") and "no labels found" in err and "jaxaxon predict" in err
    assert "\n" not in err and not out.exists()
    (src / "bouton_boxes.json").write_text(json.dumps({"a": []}))  # boxes, but the tiny run has no bouton head
    with pytest.raises(ImageDataError, match="no bouton head"):
        evaluate_checkpoint(tiny_run[0], src, out)


def test_evaluate_says_what_it_found(tiny_run, labelled_folder, tmp_path, capsys):
    out = tmp_path / "eval"
    assert main(["evaluate", "--checkpoint", str(tiny_run[0]), "--data", str(labelled_folder), "--out", str(out),
                 "--limit", "2"]) == 0  # fmt: skip
    assert capsys.readouterr().out.splitlines()[0] == "found 3 PNG: 3 images; using the first 2 (--limit)"
    assert json.loads((out / "metrics.json").read_text())["inputs"]["files"] == {"PNG": 3}


@pytest.mark.parametrize(
    "argv, message",
    [
        (["predict", "--input", "x", "--threshold", "2"], "argument --threshold: expected a number in 0..1, got '2'"),
        (["predict", "--input", "x", "--threshold", "nan"],
         "argument --threshold: expected a number in 0..1, got 'nan'"),
        (["evaluate", "--data", "x", "--frangi-sigmas", "abc"],
         "argument --frangi-sigmas: expected a positive number, got 'abc'"),
        (["evaluate", "--data", "x", "--frangi-sigmas", "1,,2"],
         "argument --frangi-sigmas: expected a positive number, got ''"),
        (["evaluate", "--data", "x", "--frangi-sigmas", "1,-2"],
         "argument --frangi-sigmas: expected a positive finite number, got '-2'"),
    ],
)
def test_bad_arguments_are_one_line_errors(argv, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(argv + ["--checkpoint", "c", "--out", str(tmp_path / "o")])
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"jaxaxon {argv[0]}: error: {message} (see jaxaxon {argv[0]} --help)"
    )


@pytest.mark.parametrize("argv", [["predict", "--input", "x"], ["evaluate", "--data", "x"]])
def test_out_naming_an_existing_file_is_refused_and_kept(argv, tmp_path, capsys):
    a_file = tmp_path / "results"
    a_file.write_text("keep me")
    assert main(argv + ["--checkpoint", "missing", "--out", str(a_file)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"jaxaxon {argv[0]}: error: --out {a_file}: is an existing file, not a folder; choose a folder " \
        "(the file was left untouched)"
    assert a_file.read_text() == "keep me"


def test_bouton_min_area_is_the_smallest_trained_bouton_at_the_input_grid():
    from jaxaxon.config import GeneratorConfig
    from jaxaxon.eval.evaluate import DEFAULT_BOUTON_MIN_AREA, bouton_min_areas
    from jaxaxon.train import get_preset

    rc = get_preset("quick")
    assert bouton_min_areas(rc, [1.0, 0.5]) == [DEFAULT_BOUTON_MIN_AREA] * 2  # relative sizes: unchanged rule
    rc = rc.replace(generator=GeneratorConfig(bouton_radius=(2.0, 3.0)))
    # a disc of radius 2 px of the training grid: 12.6 px there, 4x as many in an image resampled by 0.5
    assert bouton_min_areas(rc, [1.0, 0.5, 2.0]) == [13, 50, 3]
