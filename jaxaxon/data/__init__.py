"""Data on disk: real and other images (`jaxaxon.data.images`)."""
