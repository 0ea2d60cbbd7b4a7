"""jaxaxon: synthetic two-photon images of cortical axons, generated on the accelerator with JAX.

Public API: `GeneratorConfig`, `ConfigError`, `generate`, `generate_series`, `open_dataset`.
"""

from jaxaxon.config import ConfigError, GeneratorConfig
from jaxaxon.data import open_dataset
from jaxaxon.synth.image import Batch, generate
from jaxaxon.synth.series import SeriesBatch, generate_series

__all__ = ["Batch", "ConfigError", "GeneratorConfig", "SeriesBatch", "generate", "generate_series", "open_dataset"]

try:  # the installed distribution's version
    from importlib.metadata import version as _version

    __version__ = _version("jaxaxon")
except Exception:  # pragma: no cover - running from a source tree without installing
    __version__ = "0.0.0+unknown"
