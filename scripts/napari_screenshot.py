"""Screenshot of napari showing a generated image with its labels (the README's docs/napari.png).

Needs ``pip install jaxaxon[napari] pyqt5`` and a display; on a headless machine run it under
a virtual X server (Mesa's software OpenGL is enough):

    xvfb-run -a -s "-screen 0 1280x1024x24" python scripts/napari_screenshot.py --out docs/napari.png

The layers are those of napari's File > Open Sample > jaxaxon (`jaxaxon.napari.sample`). The
PNG is saved with an adaptive 256-colour palette to keep it small.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="PNG file to write")
    parser.add_argument("--preset", default="realistic", help="generator preset (default: realistic)")
    parser.add_argument("--seed", type=int, default=0, help="generator seed (default: 0)")
    parser.add_argument("--width", type=int, default=1000, help="window width in pixels (default: 1000)")
    parser.add_argument("--height", type=int, default=720, help="window height in pixels (default: 720)")
    args = parser.parse_args(argv)

    import napari
    from PIL import Image

    from jaxaxon.napari.sample import preset_config, sample_layers

    layers = sample_layers(preset_config(args.preset), args.seed, name=f"{args.preset}: ")
    viewer = napari.Viewer(title="jaxaxon in napari", show=True)
    for data, meta, kind in layers:
        getattr(viewer, f"add_{kind}")(data, **meta)
    viewer.layers[f"{args.preset}: boutons"].opacity = 1.0  # small: drawn opaque to be seen
    viewer.layers.selection.active = viewer.layers[f"{args.preset}: boutons"]
    viewer.scale_bar.visible = True  # napari >= 0.9: also viewer.canvas.overlays.scale_bar
    viewer.window._qt_window.resize(args.width, args.height)  # no public resize in napari's API
    napari.qt.get_qapp().processEvents()
    viewer.reset_view()
    shot = viewer.screenshot(canvas_only=False, flash=False)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(shot[..., :3]).quantize(256, method=Image.Quantize.MEDIANCUT).save(args.out, optimize=True)
    viewer.close()
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KiB, {shot.shape[1]}x{shot.shape[0]})")


if __name__ == "__main__":
    main()
