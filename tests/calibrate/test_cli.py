"""`jaxaxon calibrate`: a valid parameter file from a folder; one-line errors and nothing written on bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from jaxaxon.cli import main
from jaxaxon.config import GeneratorConfig
from tests.conftest import SHARED_REAL


def _axon_images(folder: Path, n: int = 2) -> Path:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    rows, cols = np.mgrid[0:300, 0:300].astype(float)
    for i in range(n):
        clean = 8 + 10 * np.exp(-(((rows - 150) ** 2 + (cols - 150) ** 2) / 9000.0))
        for k in range(4):
            a = rng.uniform(0, np.pi)
            d = np.cos(a) * (rows - rng.uniform(50, 250)) + np.sin(a) * (cols - rng.uniform(50, 250))
            clean = clean + 60 * np.exp(-(d**2) / (2 * 1.5**2))
        for r, c in rng.uniform(40, 260, (6, 2)):
            clean = clean + 80 * np.exp(-((rows - r) ** 2 + (cols - c) ** 2) / (2 * 3.0**2))
        image = np.clip(rng.poisson(clean / 2) * 2, 0, 255).astype(np.uint8)
        Image.fromarray(image).save(folder / f"{i:02d}.png")
    return folder


def test_cli_writes_a_valid_parameter_file(tmp_path: Path, capsys) -> None:
    folder = _axon_images(tmp_path / "real")
    out = tmp_path / "params.json"
    assert main(["calibrate", str(folder), "--out", str(out), "--pixel-size", "0.2", "--corrections", "0",
                 "--no-realism"]) == 0  # fmt: skip
    cfg = GeneratorConfig.from_json(out)
    assert cfg.noise_model == "microscope" and cfg.pixel_size == 0.2
    assert 0.5 <= cfg.sigma_spread <= 4.0 and cfg.MaxThickness < 64
    data = json.loads(out.read_text())
    for key in ("depth_mode", "defocused_axons", "slab_depth", "axial_sigma", "stack_depth", "depth_labels",
                "bouton_radius", "photons", "gain", "offset", "read_noise", "psf_sigma"):  # fmt: skip
        assert key in data
    est = json.loads((tmp_path / "params.estimates.json").read_text())["estimates"]
    assert est["width_p50"] == pytest.approx(1.5, rel=0.4)
    assert est["gain"] == pytest.approx(2.0, rel=0.3)
    # the smallest bouton drawn is a disc whose LoG scale is the median blob's (PSF removed)
    median_blob = math.sqrt(max(est["blob_scale_p50"] ** 2 - est["psf_sigma"] ** 2, 0.25))
    assert data["bouton_radius"][0] == pytest.approx(max(math.sqrt(2) * median_blob, 1.0), abs=1e-3)
    assert data["bouton_radius"][1] >= data["bouton_radius"][0] + 1.0 - 1e-6 and data["bouton_size"] == [0.0, 0.0]
    assert "ridge width p50" in capsys.readouterr().out


def test_cli_depth_mean_writes_a_stack_with_defocused_axons(tmp_path: Path) -> None:
    folder = _axon_images(tmp_path / "real")
    out = tmp_path / "params.json"
    assert main(["calibrate", str(folder), "--out", str(out), "--corrections", "0", "--no-realism",
                 "--depth", "mean"]) == 0  # fmt: skip
    cfg = GeneratorConfig.from_json(out)
    assert cfg.depth_mode == "mean" and cfg.depth_labels == "in_focus"
    assert cfg.defocused_axons == (cfg.MaxAxons, 3 * cfg.MaxAxons)
    # the defocused axons lie beyond the projected stack and its depth of field, inside the slab
    assert cfg.slab_depth / 2 >= cfg.stack_depth / 2 + cfg.axial_sigma
    est = json.loads((tmp_path / "params.estimates.json").read_text())["estimates"]
    assert est["depth_mode"] == "mean"


def test_cli_background_matern_writes_the_fitted_texture(tmp_path: Path) -> None:
    folder = _axon_images(tmp_path / "real")
    out = tmp_path / "params.json"
    assert main(["calibrate", str(folder), "--out", str(out), "--corrections", "0", "--no-realism",
                 "--background", "matern"]) == 0  # fmt: skip
    cfg = GeneratorConfig.from_json(out)
    est = json.loads((tmp_path / "params.estimates.json").read_text())["estimates"]
    assert est["background_model"] == "matern"
    lo, hi = cfg.background_exponent
    assert 0 < lo <= est["background_exponent"] <= hi
    assert cfg.background_scale[0] <= min(est["background_matern_scale"], 64.0) <= cfg.background_scale[1]
    default = tmp_path / "default.json"
    assert main(["calibrate", str(folder), "--out", str(default), "--corrections", "0", "--no-realism"]) == 0
    assert GeneratorConfig.from_json(default).background_exponent == (0.0, 0.0)


@pytest.mark.slow
@pytest.mark.parametrize(
    "option, choices, key, written",
    [("depth_mode", ("off", "mean"), "depth", "depth_mode"), ("background", ("gaussian", "matern"), "background", None)],
)
def test_calibrate_auto_keeps_the_closer_variant(tmp_path: Path, option, choices, key, written) -> None:
    from jaxaxon.calibrate import calibrate
    from jaxaxon.data.images import read_image

    folder = _axon_images(tmp_path / "real")
    images = [read_image(f) for f in sorted(folder.iterdir())]
    result = calibrate(images, corrections=1, n_generated=4, **{option: "auto"})
    scores = {c: result.estimates[f"score_{key}_{c}"] for c in choices}
    chosen = result.estimates["depth_mode" if key == "depth" else "background_model"]
    assert chosen == min(scores, key=scores.get)
    if written:
        assert result.params[written] == chosen
    else:
        assert (result.params["background_exponent"][1] > 0) == (chosen == "matern")


def _bad(tmp_path: Path, capsys, *inputs: str) -> str:
    out = tmp_path / "p.json"
    assert main(["calibrate", *inputs, "--out", str(out), "--corrections", "0", "--no-realism"]) == 2
    assert not list(tmp_path.glob("p*.json")) and not list(tmp_path.glob(".p*"))
    err = capsys.readouterr().err.strip()
    assert err.startswith("jaxaxon calibrate: error:") and "\n" not in err
    return err


def test_cli_bad_inputs(tmp_path: Path, capsys) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no images found" in _bad(tmp_path, capsys, str(empty))
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    assert "broken.png" in _bad(tmp_path, capsys, str(broken))
    uniform = tmp_path / "uniform.png"
    Image.fromarray(np.full((64, 64), 9, np.uint8)).save(uniform)
    assert "uniform" in _bad(tmp_path, capsys, str(uniform))
    tiny = tmp_path / "tiny.png"
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)).save(tiny)
    assert "too small" in _bad(tmp_path, capsys, str(tiny))
    assert "no such file" in _bad(tmp_path, capsys, str(tmp_path / "missing"))


@pytest.mark.slow
@pytest.mark.xfail(reason="the issue's acceptance criterion is not met on every distance yet (docs/calibration.md)")
def test_calibrated_file_is_closer_on_bass2017(tmp_path: Path) -> None:
    folder = SHARED_REAL / "bass2017" / "images"
    if not folder.is_dir():
        pytest.skip("shared real images not available")
    out = tmp_path / "bass.json"
    assert main(["calibrate", str(folder), "--out", str(out), "--n", "64"]) == 0
    table = json.loads((tmp_path / "bass.realism.json").read_text())["sets"]
    for key, value in table["calibrated"].items():
        if key.endswith(("_w1", "_rms", "_gap")):
            assert value < table["realistic"][key], key


def test_calibrate_rejects_an_unknown_psf_mode(tmp_path: Path) -> None:
    from jaxaxon.calibrate import calibrate
    from jaxaxon.calibrate.measure import CalibrationError
    from jaxaxon.data.images import read_image

    folder = _axon_images(tmp_path / "real")
    images = [read_image(f) for f in sorted(folder.iterdir())]
    with pytest.raises(CalibrationError, match="psf: expected one of estimate, spectrum; got 'psd'"):
        calibrate(images, psf="psd", corrections=0)
