"""The npe2 manifest validates, names callables that exist, and is registered and shipped by pyproject.toml."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

import npe2
import pytest

import jaxaxon.napari

MANIFEST = Path(jaxaxon.napari.__file__).parent / "napari.yaml"
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
WIDGET_MODULE = "jaxaxon.napari.widget"  # imports napari and magicgui: checked without importing it here


@pytest.fixture(scope="module")
def manifest() -> npe2.PluginManifest:
    return npe2.PluginManifest.from_file(MANIFEST)  # validates (pydantic): raises on an invalid manifest


def test_manifest_contributions(manifest):
    assert manifest.name == "jaxaxon"
    c = manifest.contributions
    assert [r.command for r in c.readers] == ["jaxaxon.get_reader"]
    assert c.readers[0].filename_patterns == ["*.zarr", "*.tif", "*.tiff"]
    assert c.readers[0].accepts_directories
    assert [s.key for s in c.sample_data] == ["realistic", "randomised", "original"]
    assert [(w.command, w.display_name) for w in c.widgets] == [("jaxaxon.segment_widget", "Segment axons")]
    ids = {cmd.id for cmd in c.commands}
    used = {r.command for r in c.readers} | {s.command for s in c.sample_data} | {w.command for w in c.widgets}
    assert used == ids


def test_manifest_commands_exist(manifest):
    for cmd in manifest.contributions.commands:
        module, attr = cmd.python_name.split(":")
        if module == WIDGET_MODULE:
            source = Path(jaxaxon.napari.__file__).with_name("widget.py").read_text()
            assert f"\n{attr} = magic_factory(" in source
        else:
            assert callable(getattr(importlib.import_module(module), attr)), cmd.python_name


def test_entry_point_and_package_data():
    project = tomllib.loads(PYPROJECT.read_text())
    assert project["project"]["entry-points"]["napari.manifest"] == {"jaxaxon": "jaxaxon.napari:napari.yaml"}
    assert "napari/napari.yaml" in project["tool"]["setuptools"]["package-data"]["jaxaxon"]
    extras = project["project"]["optional-dependencies"]
    assert {d.split(">")[0] for d in extras["napari"]} == {"napari", "npe2", "magicgui"}
    assert any(d.startswith("npe2") for d in extras["test"])


def test_manifest_imports_resolve_with_napari(manifest):
    """With napari installed, npe2 imports every command (the widget module included)."""
    pytest.importorskip("napari")
    pytest.importorskip("magicgui")
    manifest.validate_imports()
