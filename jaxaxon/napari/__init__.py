"""napari plugin of jaxaxon (npe2 manifest ``napari.yaml``; install with ``pip install jaxaxon[napari]``).

Contributions (registered through the ``napari.manifest`` entry point):

- sample data (`jaxaxon.napari.sample`): a generated image with its labels, from a preset;
- a reader (`jaxaxon.napari.reader`): jaxaxon datasets (``PATH.zarr``) and TIFF files such as
  ``jaxaxon predict``'s probability maps and masks, with the pixel size of their metadata;
- a widget (`jaxaxon.napari.widget`): runs a trained checkpoint on the current image layer;
  its computation is `jaxaxon.napari.segment.segment_layers`.

Every module but `jaxaxon.napari.widget` works without napari or Qt: the functions return
napari *layer data tuples* ``(data, kwargs, layer_type)`` (`jaxaxon.napari.layers`).
"""
