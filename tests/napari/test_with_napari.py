"""With napari installed (not in CI): the plugin's layer tuples make napari layers, and the
widget's function runs on a napari image layer. No Qt: napari's `ViewerModel` and layers only."""

from __future__ import annotations

import numpy as np
import pytest

napari = pytest.importorskip("napari")
pytest.importorskip("magicgui")

from napari.components import ViewerModel  # noqa: E402
from napari.layers import Layer  # noqa: E402

from jaxaxon.napari.layers import example_layers  # noqa: E402
from jaxaxon.napari.reader import read_paths  # noqa: E402


def _viewer_with(layers) -> ViewerModel:
    viewer = ViewerModel()
    for data, meta, kind in layers:
        viewer.add_layer(Layer.create(data, meta, kind))
    return viewer


def test_dataset_layers_in_a_viewer(small_dataset):
    viewer = _viewer_with(read_paths(str(small_dataset)))
    assert [layer.name for layer in viewer.layers][:2] == ["small: image", "small: clean image"]
    image, mask = viewer.layers["small: image"], viewer.layers["small: axon mask"]
    assert isinstance(mask, napari.layers.Labels) and image.axis_labels == ("example", "y", "x")
    viewer.dims.set_current_step(0, 2)  # napari slices the read-on-demand stack
    np.testing.assert_array_equal(np.asarray(mask._slice.image.raw), np.asarray(mask.data[2]))


def test_scaled_layers_in_a_viewer():
    arrays = {"image": np.zeros((6, 8), np.float32), "axon_mask": np.ones((6, 8), bool)}
    viewer = _viewer_with(example_layers(arrays, key="field", pixel_size=0.4, max_intensity=255))
    layer = viewer.layers["axon mask"]
    assert tuple(layer.scale) == (0.4, 0.4) and str(layer.units[-1]) == "micrometer"
    np.testing.assert_array_equal(layer.colormap.map(np.array([0, 1]))[:, 3], [0, 1])  # transparent background


def test_widget_function_on_an_image_layer(tiny_model, grey_image, monkeypatch):
    from jaxaxon.napari import widget

    model, rc = tiny_model
    known = rc.replace(**{"generator.pixel_size": 0.4})
    monkeypatch.setattr(widget, "load_checkpoint", lambda path: (model, known))
    layer = napari.layers.Image(grey_image.astype(np.float32), name="cell", scale=(0.2, 0.2), units=("um", "um"))
    out = widget.segment(layer, "some/run")
    assert [m["name"] for _, m, _ in out] == ["cell axon probability", "cell axon mask"]
    record = out[0][1]["metadata"]["jaxaxon"]
    assert (record["zoom"], record["zoom_source"]) == (0.5, "metadata")  # 0.2 um/px on a 0.4 um/px run
    assert tuple(out[0][1]["scale"]) == (0.2, 0.2)
    # a stack: only the viewer's current plane
    viewer = ViewerModel()
    stack = viewer.add_image(np.stack([grey_image, grey_image[::-1]]).astype(np.float32), name="stack")
    viewer.dims.set_current_step(0, 1)
    out = widget.segment(stack, "some/run", viewer=viewer)
    assert out[0][0].shape == (40, 48)
    np.testing.assert_array_equal(out[0][0], widget.segment_layers(model, known, grey_image[::-1])[0][0])


@pytest.fixture()
def jaxaxon_plugin():
    """The plugin registered with npe2 from its manifest file (jaxaxon may be installed without it)."""
    import npe2

    from .test_manifest import MANIFEST

    pm = npe2.PluginManager.instance()
    registered = "jaxaxon" in pm._manifests
    if not registered:
        pm.register(npe2.PluginManifest.from_file(MANIFEST))
    yield pm
    if not registered:
        pm.unregister("jaxaxon")


def test_napari_opens_a_tiff_through_the_plugin(jaxaxon_plugin, tmp_path):
    import tifffile

    path = tmp_path / "x_axon_mask.ome.tif"
    tifffile.imwrite(path, np.eye(6, 8, dtype=np.uint8), ome=True,
                     metadata={"axes": "YX", "PhysicalSizeX": 0.3, "PhysicalSizeY": 0.3})  # fmt: skip
    [layer] = ViewerModel().open(str(path), plugin="jaxaxon")
    assert isinstance(layer, napari.layers.Labels) and layer.name == "x_axon_mask"
    assert tuple(layer.scale) == pytest.approx((0.3, 0.3)) and int(layer.data.sum()) == 6


def test_widget_builds_offscreen(jaxaxon_plugin, monkeypatch):
    try:
        import qtpy  # noqa: F401  (raises when no Qt binding is installed)
    except Exception as err:  # qtpy's QtBindingsNotFoundError is not an ImportError
        pytest.skip(f"no Qt bindings to build the widget with ({type(err).__name__}); pip install pyqt5")
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    from jaxaxon.napari.widget import segment_widget

    gui = segment_widget()
    assert [w.name for w in gui][:6] == ["image", "checkpoint", "threshold", "pixel_size", "zoom", "current_plane_only"]
    assert gui.threshold.value == 0.5 and gui.threshold.max == 1.0
    gui.close()


def test_napari_opens_a_dataset_through_the_plugin(jaxaxon_plugin, small_dataset):
    layers = ViewerModel().open(str(small_dataset), plugin="jaxaxon")
    assert [layer.name for layer in layers][0] == "small: image"
    assert layers[0].data.shape == (4, 64, 64)
