"""Data on disk: generated datasets (OME-Zarr, NGFF 0.5 on zarr v3, through tensorstore,
`jaxaxon.data.dataset`; NGFF metadata in `jaxaxon.data.ngff`) and real and other images
(`jaxaxon.data.images`)."""

from jaxaxon.data.dataset import Dataset, VerifyReport, WriteSummary, open_dataset, verify_dataset, write_dataset
from jaxaxon.data.layout import ArraySpec, DatasetError

__all__ = [
    "ArraySpec",
    "Dataset",
    "DatasetError",
    "VerifyReport",
    "WriteSummary",
    "open_dataset",
    "verify_dataset",
    "write_dataset",
]
