"""Calibration of generator parameters from unlabelled real images (docs/calibration.md).

`calibrate` measures the images (`measure`), maps the estimates to `GeneratorConfig` keys
(`fit`) and corrects them once against images generated from them; `report` compares image
sets with the realism distances of `jaxaxon.eval.realism`.
"""

from jaxaxon.calibrate.calibrate import Calibration, calibrate
from jaxaxon.calibrate.measure import CalibrationError

__all__ = ["Calibration", "CalibrationError", "calibrate"]
