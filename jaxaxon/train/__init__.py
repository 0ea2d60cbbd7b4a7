"""Training on the fly: networks learn from images generated inside the jitted step.

Public API for other parts of jaxaxon (evaluation, prediction, benchmarks):

- `train(workdir, run_config, ...)`: run or resume a training run.
- `make_train_step(run_config, real_bank, mesh)`: the jitted step over a device mesh.
- `jaxaxon.train.data_loader`: training from a dataset on disk (``train(..., data=PATH)``).
- `RunConfig`, `get_preset`: run configurations.
- `normalise(images, method)`: the input scaling every network sees.
- `load_model(path) -> (model, run_config)` and `predict(model, run_config, images)`.
"""

from jaxaxon.train.checkpoint import CheckpointError
from jaxaxon.train.config import RunConfig, RunConfigError, read_run_config
from jaxaxon.train.inference import load_model, predict
from jaxaxon.train.loop import TrainingInterrupted, train
from jaxaxon.train.normalise import Normalisation, normalise
from jaxaxon.train.presets import get_preset, preset_names
from jaxaxon.train.step import TrainStep, make_train_step

__all__ = [
    "CheckpointError",
    "Normalisation",
    "RunConfig",
    "RunConfigError",
    "TrainStep",
    "TrainingInterrupted",
    "get_preset",
    "load_model",
    "make_train_step",
    "normalise",
    "predict",
    "preset_names",
    "read_run_config",
    "train",
]
