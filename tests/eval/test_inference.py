"""Whole-image and sliding-window inference agree (jaxaxon.eval.inference)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxaxon.eval.inference import TilingConfig, blend_weight, predict_image, predict_images, window_grid

_K5 = jnp.asarray(np.random.default_rng(0).normal(size=(5, 5)).astype(np.float32))
_K3 = jnp.asarray(np.random.default_rng(1).normal(size=(3, 3)).astype(np.float32) / 3)


def _conv(x, k):
    return jax.lax.conv_general_dilated(x[:, None], k[None, None], (1, 1), "SAME")[:, 0]


@jax.jit
def conv_sigmoid(batch):
    """A fixed 5x5 'same' convolution + sigmoid: receptive-field radius 2."""
    return jax.nn.sigmoid(_conv(batch, _K5))


@jax.jit
def pooled_net(batch):
    """conv5 -> 2x2 max pool -> conv3 -> 2x2 max pool -> conv3 -> 4x nearest upsampling -> conv3, sigmoid.

    Equivariant to shifts by 4; receptive-field radius well under 24 px.
    """
    x = jnp.tanh(_conv(batch, _K5))
    b, h, w = x.shape
    x = x.reshape(b, h // 2, 2, w // 2, 2).max(axis=(2, 4))
    x = jnp.tanh(_conv(x, _K3))
    x = x.reshape(b, h // 4, 2, w // 4, 2).max(axis=(2, 4))
    x = jnp.tanh(_conv(x, _K3))
    x = jnp.repeat(jnp.repeat(x, 4, axis=1), 4, axis=2)
    return jax.nn.sigmoid(_conv(x, _K3))


def two_channel(batch):
    p = conv_sigmoid(batch)
    return jnp.stack([p, 1 - p], axis=-1)


IMAGE = np.random.default_rng(2).random((70, 93)).astype(np.float32)


@pytest.mark.parametrize("blend", ["cosine", "gaussian", "constant"])
def test_sliding_windows_equal_whole_image(blend):
    whole = predict_image(conv_sigmoid, IMAGE, TilingConfig(context=4, tile=32, overlap=8))
    assert whole.shape == IMAGE.shape and whole.dtype == np.float32
    tiled = predict_image(
        conv_sigmoid, IMAGE, TilingConfig(context=4, tile=32, overlap=8, max_whole_pixels=0, blend=blend, batch_size=3)
    )
    np.testing.assert_allclose(tiled, whole, rtol=0, atol=1e-6)


def test_without_context_the_seams_differ():
    """The equality above is not automatic: without context the network's zero padding shows at seams."""
    whole = predict_image(conv_sigmoid, IMAGE, TilingConfig(context=0, tile=32, overlap=8))
    tiled = predict_image(conv_sigmoid, IMAGE, TilingConfig(context=0, tile=32, overlap=8, max_whole_pixels=0))
    assert np.abs(tiled - whole).max() > 1e-2  # far above the 1e-6 tolerance of the equality tests


def test_pooled_network_matches_with_aligned_windows():
    image = np.random.default_rng(3).random((61, 130)).astype(np.float32)
    whole = predict_image(pooled_net, image, TilingConfig(context=24, tile=96, overlap=8))
    tiled = predict_image(pooled_net, image, TilingConfig(context=24, tile=96, overlap=8, max_whole_pixels=0))
    np.testing.assert_allclose(tiled, whole, rtol=0, atol=1e-5)


def test_whole_image_matches_direct_call_away_from_borders():
    """Whole-image mode only pads: deep inside, the result is the plain network output."""
    image = np.random.default_rng(4).random((40, 44)).astype(np.float32)  # multiples of 4
    out = predict_image(conv_sigmoid, image, TilingConfig(context=8))
    direct = np.asarray(conv_sigmoid(image[None]))[0]
    np.testing.assert_allclose(out[2:-2, 2:-2], direct[2:-2, 2:-2], atol=1e-6)
    # at the border the context is mirrored tissue, not the network's zeros
    assert not np.allclose(out[0], direct[0], atol=1e-3)
    zero_pad = predict_image(conv_sigmoid, image, TilingConfig(context=8, pad_mode="constant"))
    np.testing.assert_allclose(zero_pad, direct, atol=1e-6)


def test_multichannel_output_and_small_images():
    tiling = TilingConfig(context=4, tile=32, overlap=8, max_whole_pixels=0)
    for shape in [(1, 1), (3, 50), (24, 24), (25, 57)]:
        image = np.random.default_rng(5).random(shape).astype(np.float32)
        out = predict_image(two_channel, image, tiling)
        assert out.shape == shape + (2,)
        whole = predict_image(two_channel, image, TilingConfig(context=4))
        np.testing.assert_allclose(out, whole, atol=1e-6)
        np.testing.assert_allclose(out.sum(-1), 1.0, atol=1e-6)


def test_windows_have_one_shape_and_grid_covers_image():
    seen = []

    def record(batch):
        seen.append(batch.shape)
        return np.zeros(batch.shape, np.float32)

    predict_image(record, IMAGE, TilingConfig(context=4, tile=32, overlap=8, max_whole_pixels=0, batch_size=4))
    assert len(set(seen)) == 1 and seen[0] == (4, 32, 32)
    tiling = TilingConfig(context=4, tile=32, overlap=8)
    starts, padded = window_grid(93, tiling)
    assert starts[-1] + tiling.core >= 93 and padded == starts[-1] + 32
    assert all(s % tiling.divisor == 0 for s in starts)
    w = blend_weight(tiling)
    assert w.shape == (tiling.core, tiling.core) and w.min() > 0 and w.max() == pytest.approx(1.0)
    # whole-image sizes are multiples of the divisor
    predict_image(record, np.zeros((13, 7), np.float32), TilingConfig(context=4, divisor=4))
    assert seen[-1] == (1, 24, 16)
    assert [o.shape for o in predict_images(record, [np.zeros((5, 6)), np.zeros((7, 3))])] == [(5, 6), (7, 3)]


def test_bad_arguments():
    with pytest.raises(ValueError, match="multiple of divisor"):
        TilingConfig(context=5)
    with pytest.raises(ValueError, match="must exceed 2\\*context \\+ overlap"):
        TilingConfig(tile=64, context=32, overlap=0)
    with pytest.raises(ValueError, match="blend"):
        TilingConfig(blend="hann")
    with pytest.raises(ValueError, match="2-D image"):
        predict_image(conv_sigmoid, np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="same spatial size|input's spatial size"):
        predict_image(lambda b: b[:, ::2], np.zeros((8, 8)))
