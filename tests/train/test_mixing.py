"""Mixing real images into training batches: counts, exact crops, determinism, loss masking, errors."""

from __future__ import annotations

import json
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from numpy.lib.stride_tricks import sliding_window_view
from PIL import Image

from jaxaxon.cli import main
from jaxaxon.synth.image import generate
from jaxaxon.train import RunConfigError, TrainingInterrupted, load_model, train
from jaxaxon.train.config import RealMixing, RunConfig, read_run_config
from jaxaxon.train.losses import segmentation_loss, weighted_segmentation_loss
from jaxaxon.train.mixing import (
    RealDataError,
    bouton_target,
    build_bank,
    load_real_samples,
    prepare_real,
    real_crops,
    transform_codes,
)
from jaxaxon.train.normalise import normalise
from jaxaxon.parallel import make_mesh
from jaxaxon.train.step import run_keys, step_batch, to_tiles

QUIET = {"log": lambda s: None}


def _inverse(crop: np.ndarray, code: int) -> np.ndarray:
    """Undoes transform ``code`` of `jaxaxon.train.mixing`: its crop reads the window at flipped
    (bit 0: rows, bit 1: columns), then transposed (bit 2) indices."""
    out = crop[::-1, :] if code & 1 else crop
    out = out[:, ::-1] if code & 2 else out
    return out.T if code & 4 else out


def _find(crop: np.ndarray, images: list[np.ndarray]) -> list[tuple[int, int, int, int]]:
    """All (image, row, col, code) whose window, transformed by code, equals ``crop`` exactly."""
    hits = []
    for code in range(8):
        window = _inverse(crop, code)
        for m, image in enumerate(images):
            if image.shape[0] < window.shape[0] or image.shape[1] < window.shape[1]:
                continue
            views = sliding_window_view(image, window.shape)
            rows, cols = np.nonzero(np.all(views == window, axis=(2, 3)))
            hits += [(m, int(r), int(c), code) for r, c in zip(rows, cols)]
    return hits


@pytest.fixture(scope="module")
def real_dir(tmp_path_factory):
    """A labelled folder: two masked images of other sizes and dtypes (uint8 40x48, uint16 36x64)."""
    root = tmp_path_factory.mktemp("real")
    (root / "images").mkdir()
    (root / "masks").mkdir()
    rng = np.random.default_rng(0)
    for name, shape, dtype, top in (("a", (40, 48), np.uint8, 255), ("b", (36, 64), np.uint16, 4000)):
        image = rng.integers(0, top, shape).astype(dtype)  # random: every window is unique
        mask = (rng.random(shape) > 0.7).astype(np.uint8) * 255
        Image.fromarray(image).save(root / "images" / f"{name}.png")
        Image.fromarray(mask).save(root / "masks" / f"{name}.png")
    return root


@pytest.fixture(scope="module")
def boxes_dir(tmp_path_factory):
    """Images with bouton boxes only (as bass2017): no axon masks."""
    root = tmp_path_factory.mktemp("boxes")
    (root / "images").mkdir()
    rng = np.random.default_rng(1)
    for name in ("p", "q"):
        Image.fromarray(rng.integers(0, 255, (48, 48)).astype(np.uint8)).save(root / "images" / f"{name}.png")
    (root / "bouton_boxes.json").write_text(json.dumps({"p": [[10, 10, 22, 18], [30, 30, 38, 38]], "q": []}))
    return root


def _normalised(rc, samples):
    return [np.asarray(normalise(jnp.asarray(s.image), rc.normalise)) for s in samples]


# --------------------------------------------------------------------------- batches


@pytest.mark.parametrize("share, batch, n_real", [(0.0, 8, 0), (0.5, 16, 8), (1.0, 8, 8)])
def test_mixed_batch_has_round_share_real_crops_after_the_synthetic_tiles(tiny, real_dir, share, batch, n_real):
    """Shares 0 / 0.5 / 1: the first N - R examples are the synthetic-only step's tiles, the last
    R exact crops (up to flips / 90-degree rotations) of the normalised real images."""
    rc = tiny.replace(batch_size=batch, real=RealMixing(paths=(str(real_dir),), share=share))
    assert rc.real_per_step == n_real
    rc, bank = prepare_real(rc, **QUIET)
    assert (bank is None) == (n_real == 0)
    _, data_key, _ = run_keys(0)
    step = 3
    if bank is None:  # share 0 trains with the plain step; the mixed batch with R = 0 is that step's batch
        bank = build_bank(load_real_samples(rc.real), rc)[0]
    x, y, w = step_batch(rc, data_key, step, make_mesh(), bank, n_real, transform_codes(rc.real, True))
    assert x.shape == (batch, 32, 32) and y.shape == (batch, 32, 32, 1)
    if n_real == 0:  # unweighted, as the synthetic-only step
        assert w is None
        w = np.ones((batch, 1), np.float32)
    assert w.shape == (batch, 1)
    n_syn = batch - n_real
    n = rc.images_per_step
    ref = generate(jax.random.fold_in(data_key, step), rc.generator, 2, start_index=step * n)
    ref_x = np.asarray(to_tiles(normalise(ref.image, rc.normalise), 32))
    ref_y = np.asarray(to_tiles(ref.axon_mask, 32), np.float32)
    np.testing.assert_allclose(np.asarray(x[:n_syn]), ref_x[:n_syn], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(y[:n_syn, ..., 0]), ref_y[:n_syn])
    np.testing.assert_array_equal(np.asarray(w[:n_syn]), 1.0)
    samples = load_real_samples(rc.real)
    images, masks = _normalised(rc, samples), [s.mask.astype(np.float32) for s in samples]
    for k in range(n_syn, batch):
        crop = np.asarray(x[k])
        hits = _find(crop, images)
        assert len(hits) >= 1, f"example {k} is no crop of a real image"
        m, r, c, code = hits[0]
        window = masks[m][r : r + 32, c : c + 32]
        np.testing.assert_array_equal(_inverse(np.asarray(y[k, ..., 0]), code), window)  # its target: the same crop
        assert float(w[k, 0]) == 1.0
    if n_syn:  # synthetic tiles are not real crops
        assert not _find(np.asarray(x[0]), images)


def test_real_crops_are_exact_deterministic_and_use_all_transforms(tiny, real_dir):
    rc, bank = prepare_real(tiny.replace(real=RealMixing(paths=(str(real_dir),), share=0.5)), **QUIET)
    images = _normalised(rc, load_real_samples(rc.real))
    crops = jax.jit(real_crops, static_argnums=(2, 3, 4))
    key = jax.random.key(5)
    x, _, _ = crops(bank, key, 48, (32, 32), tuple(range(8)))
    codes, which = set(), set()
    for k in range(48):
        hits = _find(np.asarray(x[k]), images)
        assert hits, f"crop {k} is no exact crop"
        codes.add(hits[0][3])
        which.add(hits[0][0])
    assert len(codes) >= 6 and which == {0, 1}  # flips and rotations are drawn; both images are used
    # eager equals jitted; crop i depends only on (key, i), not on how many are drawn
    x8, _, _ = real_crops(bank, key, 8, (32, 32), tuple(range(8)))
    np.testing.assert_array_equal(np.asarray(x8), np.asarray(x[:8]))
    later, _, _ = real_crops(bank, key, 8, (32, 32), tuple(range(8)), first=40)  # one device's slice
    np.testing.assert_array_equal(np.asarray(later), np.asarray(x[40:]))
    again, _, _ = crops(bank, key, 48, (32, 32), tuple(range(8)))
    np.testing.assert_array_equal(np.asarray(again), np.asarray(x))
    other, _, _ = crops(bank, jax.random.fold_in(key, 1), 48, (32, 32), tuple(range(8)))
    assert not np.array_equal(np.asarray(other), np.asarray(x))
    # no transforms: plain windows
    plain, _, _ = real_crops(bank, key, 8, (32, 32), (0,))
    assert all(any(h[3] == 0 for h in _find(np.asarray(plain[k]), images)) for k in range(8))


def test_mixed_crops_depend_on_the_step_only(tiny, real_dir):
    rc, bank = prepare_real(tiny.replace(real=RealMixing(paths=(str(real_dir),), share=1.0)), **QUIET)
    _, data_key, _ = run_keys(0)
    mesh = make_mesh()
    fn = jax.jit(lambda k, s, b: step_batch(rc, k, s, mesh, b, 8, tuple(range(8))))
    a, b, c = fn(data_key, 7, bank)[0], fn(data_key, 7, bank)[0], fn(data_key, 8, bank)[0]
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(a), np.asarray(c))
    eager = step_batch(rc, data_key, 7, mesh, bank, 8, tuple(range(8)))[0]
    np.testing.assert_array_equal(np.asarray(eager), np.asarray(a))


def test_transform_codes():
    real = RealMixing(paths=("x",), share=0.5)
    assert transform_codes(real, True) == tuple(range(8))
    assert transform_codes(real, False) == (0, 1, 2, 3)
    assert transform_codes(RealMixing(paths=("x",), share=0.5, flips=False), True) == (0, 5, 3, 6)
    assert transform_codes(RealMixing(paths=("x",), share=0.5, flips=False, rot90=False), True) == (0,)
    square = np.arange(16).reshape(4, 4)
    for k, code in zip((1, 2, 3), (5, 3, 6)):  # the codes named rotations are np.rot90
        np.testing.assert_array_equal(_inverse(np.rot90(square, k), code), square)


# --------------------------------------------------------------------------- boxes and loss weights


def test_bouton_targets_from_boxes():
    disc = bouton_target(np.array([[10, 10, 22, 18]]), (40, 40), "disc")  # centre (15.5, 13.5), radius 2
    assert disc[15, 13] == 1 and disc[16, 14] == 1 and disc[0, 0] == 0
    rows, cols = np.nonzero(disc)
    assert np.all((rows - 15.5) ** 2 + (cols - 13.5) ** 2 <= 4.0)
    assert disc.sum() == 12  # the pixels within 2 px of a half-integer centre
    gauss = bouton_target(np.array([[0, 0, 9, 9]]), (20, 20), "gaussian", radius=4.0)
    assert gauss[4, 4] == pytest.approx(1.0) and gauss[4, 8] == pytest.approx(np.exp(-2.0))
    assert bouton_target(np.zeros((0, 4), int), (8, 8), "disc").sum() == 0


def test_box_only_images_train_the_bouton_head_only(tiny, boxes_dir, real_dir):
    rc = tiny.replace(**{"model.heads": ["axon", "bouton"]})
    real = RealMixing(paths=(str(boxes_dir), str(real_dir)), share=0.5, bouton_targets="disc")
    rc, bank = prepare_real(rc.replace(real=real), **QUIET)
    # images p, q (boxes only; q is labelled with no bouton) then a, b (masks, no boxes)
    np.testing.assert_array_equal(np.asarray(bank.weights), [[0, 1], [0, 1], [1, 0], [1, 0]])
    assert rc.real.n_images == 4
    _, y, w = real_crops(bank, jax.random.key(0), 32, (32, 32))
    w = np.asarray(w)
    assert {tuple(r) for r in w} == {(0.0, 1.0), (1.0, 0.0)}
    box_only = w[:, 0] == 0
    assert np.all(np.asarray(y)[box_only, ..., 0] == 0)  # no axon target where nothing is labelled
    assert np.asarray(y)[box_only, ..., 1].max() == 1.0  # discs in some crop of p
    # without bouton targets the box-only images are left out, with a note
    notes = []
    _, bank = prepare_real(rc.replace(real=RealMixing(paths=real.paths, share=0.5)), log=notes.append)
    assert bank.n_images == 2 and "left out 2 image(s)" in notes[0] and "p, q" in notes[0]


def test_weighted_loss_masks_examples_and_heads():
    rng = np.random.default_rng(0)
    logits = jnp.asarray(rng.normal(size=(4, 8, 8, 2)), jnp.float32)
    target = jnp.asarray(rng.random((4, 8, 8, 2)) > 0.6, jnp.float32)
    ones = jnp.ones((4, 2))
    for kind in ("dice", "bce", "dice+bce"):
        plain, pm = segmentation_loss(logits, target, kind)
        weighted, wm = segmentation_loss(logits, target, kind, weights=ones)
        assert float(weighted) == pytest.approx(float(plain), rel=1e-5)
        assert float(wm["dice"]) == pytest.approx(float(pm["dice"]), rel=1e-5)
        # weight 0 for examples 2, 3 == the loss of examples 0, 1 alone
        w = jnp.asarray([[1, 1], [1, 1], [0, 0], [0, 0]], jnp.float32)
        sub, _ = segmentation_loss(logits[:2], target[:2], kind)
        assert float(segmentation_loss(logits, target, kind, weights=w)[0]) == pytest.approx(float(sub), rel=1e-5)
    # per head: example 0 has no axon label; the axon loss ignores it, the gradient on it is exactly 0
    w = jnp.asarray([[0, 1], [1, 1], [1, 1], [1, 1]], jnp.float32)
    grad = jax.grad(lambda lg: weighted_segmentation_loss(lg, target, w, "dice+bce")[0])(logits)
    assert np.all(np.asarray(grad[0, ..., 0]) == 0) and np.any(np.asarray(grad[0, ..., 1]) != 0)
    changed = target.at[0, ..., 0].set(1.0 - target[0, ..., 0])  # any axon target there: same loss
    for kind in ("dice", "bce", "dice+bce"):
        a = weighted_segmentation_loss(logits, target, w, kind)[0]
        b = weighted_segmentation_loss(logits, changed, w, kind)[0]
        assert float(a) == float(b)
    # a head with no weight in the batch adds nothing: the mean runs over the labelled heads
    w = jnp.asarray([[1, 0]] * 4, jnp.float32)
    only_axon = segmentation_loss(logits[..., :1], target[..., :1], "dice")[0]
    assert float(weighted_segmentation_loss(logits, target, w, "dice")[0]) == pytest.approx(float(only_axon), rel=1e-5)


def test_bass2017_boxes_train_the_bouton_head(tiny, shared_real):
    rc = tiny.replace(**{"model.heads": ["axon", "bouton"]})
    real = RealMixing(paths=(str(shared_real / "bass2017"),), share=0.25, bouton_targets="disc", include=("0[1-7]",))
    rc, bank = prepare_real(rc.replace(real=real), **QUIET)
    assert rc.real.n_images == 6  # 01, 02, 04, 05, 06, 07
    np.testing.assert_array_equal(np.asarray(bank.weights), [[0, 1]] * 6)
    with pytest.raises(RealDataError, match="--heads axon,bouton --real-bouton-targets disc"):
        prepare_real(tiny.replace(real=RealMixing(paths=(str(shared_real / "bass2017"),), share=0.25)), **QUIET)


# --------------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"real": {"paths": ["x"], "share": 1.5}}, "real.share: expected a fraction of the batch in 0..1, got 1.5"),
        ({"real": {"paths": ["x"], "share": -0.1}}, "real.share: expected a fraction"),
        ({"real": {"paths": [], "share": 0.5}}, "real.paths: no real data given"),
        ({"real": {"paths": ["x"], "share": 0.01}}, "rounds to no real crop per step"),
        ({"real": {"paths": ["x"], "share": 0.95}}, "rounds to real crops only"),
        ({"real": {"paths": ["x"], "share": 0.5, "bouton_targets": "disc"}}, "add one: --heads axon,bouton"),
        ({"real": {"paths": ["x"], "share": 0.5, "bouton_targets": "disk"}}, "did you mean 'disc'"),
        ({"real": {"paths": ["x"], "sharee": 0.5}}, "did you mean 'real.share'"),
        ({"real": {"paths": ["x"], "share": 0.5}, "model": {"kind": "autoencoder"}, "loss": "mse"}, "segmentation runs"),
    ],
)
def test_bad_real_options(tiny, changes, message):
    data = {**tiny.to_dict(), **{k: v for k, v in changes.items() if k != "model"}}
    if "model" in changes:
        data["model"] = {**data["model"], **changes["model"]}
    with pytest.raises(RunConfigError) as err:
        RunConfig.from_dict(data)
    assert message in str(err.value)


def test_bad_real_data(tiny, real_dir, boxes_dir, tmp_path):
    def prep(path, **kw):
        return prepare_real(tiny.replace(real=RealMixing(paths=(str(path),), share=0.5, **kw)), **QUIET)

    with pytest.raises(RealDataError, match="smaller than the 64x64 training crop: a \\(40x48\\), b \\(36x64\\)"):
        prepare_real(tiny.replace(crop=64, batch_size=2, real=RealMixing(paths=(str(real_dir),), share=0.5)), **QUIET)
    with pytest.raises(RealDataError, match="no such file or folder"):
        prep(tmp_path / "missing")
    with pytest.raises(RealDataError, match="matches none of the 2 real images \\(a, b\\)"):
        prep(real_dir, include=("z*",))
    with pytest.raises(RealDataError, match="none of the 2 real images has labels for the trained heads"):
        prep(boxes_dir)
    with pytest.raises(RealDataError, match="has bouton boxes"):
        prepare_real(
            tiny.replace(**{"model.heads": ["axon", "bouton"]},
                         real=RealMixing(paths=(str(real_dir),), share=0.5, bouton_targets="gaussian")),
            **QUIET,
        )  # fmt: skip
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RealDataError, match="no images found"):
        prep(empty)
    bad = tmp_path / "bad"
    for sub, shape in (("images", (40, 40)), ("masks", (40, 41))):  # a mask of another size
        (bad / sub).mkdir(parents=True)
        Image.fromarray(np.zeros(shape, np.uint8)).save(bad / sub / "a.png")
    with pytest.raises(RealDataError, match="they must have the same size"):
        prep(bad)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--real-share", "0.5"], "--real-share need real data: give --real DIR"),
        (["--real", "REAL"], "--real needs --real-share F"),
        (["--real", "REAL", "--real-share", "2"], "real.share: expected a fraction of the batch in 0..1, got 2.0"),
        (["--real", "BOXES", "--real-share", "0.5"], "--heads axon,bouton --real-bouton-targets disc"),
        (["--real", "REAL", "--real-share", "0.5", "--real-bouton-targets", "disc"], "add one: --heads axon,bouton"),
        (["--real", "REAL", "--real-share", "0.5", "--set", "crop=128"], "smaller than the 128x128 training crop"),
        (["--real", "REAL", "--real-share", "0.5", "--real-include", "z*"], "matches none of the 2 real images"),
    ],
)
def test_cli_refuses_bad_real_options_before_writing(args, message, real_dir, boxes_dir, tmp_path, capsys):
    workdir = tmp_path / "run"
    args = [{"REAL": str(real_dir), "BOXES": str(boxes_dir)}.get(a, a) for a in args]
    base = ["--set", "crop=32", "--set", "batch_size=64"]  # the quick preset with crops the tiny images fit
    assert main(["train", "--workdir", str(workdir), "--no-progress", *base, *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("jaxaxon train: ") and message in err, err
    assert not workdir.exists()


def test_cli_resume_refuses_new_real_options(tmp_path, real_dir, capsys):
    workdir = tmp_path / "run"
    workdir.mkdir()
    (workdir / "config.json").write_text(json.dumps({"steps": 5}))
    assert main(["train", "--workdir", str(workdir), "--resume", "--real", str(real_dir), "--real-share", "0.5"]) == 2
    assert "cannot change: real, real_share" in capsys.readouterr().err


# --------------------------------------------------------------------------- training runs


def test_mixed_run_records_its_data_and_resumes_exactly(tiny, real_dir, tmp_path):
    """A run with real crops: config.json records the data, a paused and resumed run equals an
    uninterrupted one, and changed data are refused on resume."""
    data = tmp_path / "data"
    shutil.copytree(real_dir, data)
    rc = tiny.replace(steps=4, eval_every=4, checkpoint_every=2, real=RealMixing(paths=(str(data),), share=0.5))
    straight = tmp_path / "straight"
    train(straight, rc, progress=False, **QUIET)
    recorded = json.loads((straight / "config.json").read_text())["real"]
    assert recorded["paths"] == [str(data.resolve())] and recorded["share"] == 0.5
    assert recorded["n_images"] == 2 and len(recorded["fingerprint"]) == 64
    assert read_run_config(straight / "config.json").real_per_step == 4
    assert load_model(straight)[1].real.share == 0.5  # checkpoints carry it too
    paused = tmp_path / "paused"
    with pytest.raises(TrainingInterrupted):
        train(paused, rc, progress=False, until=2, **QUIET)
    train(paused, resume=True, progress=False, **QUIET)

    def untimed(workdir):
        history = json.loads((workdir / "history.json").read_text())
        return [{k: v for k, v in r.items() if k not in ("time", "steps_per_s")} for r in history]

    assert untimed(straight) == untimed(paused)
    a = nnx.to_pure_dict(nnx.state(load_model(straight / "checkpoints" / "latest" / "4")[0]))
    b = nnx.to_pure_dict(nnx.state(load_model(paused / "checkpoints" / "latest" / "4")[0]))
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))
    # the data change: resuming is refused
    Image.fromarray(np.zeros((40, 48), np.uint8)).save(data / "masks" / "a.png")
    with pytest.raises(RealDataError, match="changed since the run started"):
        train(paused, resume=True, steps=6, progress=False, **QUIET)
