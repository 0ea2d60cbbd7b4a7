"""Time-lapse tracking of boutons: frame registration, linking of detections into tracks,
ground truth of generated series, and metrics (the original's centreline accuracy, CLEAR-MOT /
IDF1, gain/loss events). Pure NumPy/SciPy; `jaxaxon.track.run` adds a network's detections."""

from jaxaxon.track.config import TrackerConfig
from jaxaxon.track.ground_truth import series_centrelines, series_tracks
from jaxaxon.track.link import link_detections
from jaxaxon.track.metrics import (
    centreline_accuracy,
    centreline_accuracy_details,
    event_scores,
    match_points,
    track_events,
    tracking_scores,
)
from jaxaxon.track.register import Registration, inverse_transform_points, register_pair, register_series, transform_points
from jaxaxon.track.tracks import Tracks

__all__ = [
    "Registration",
    "TrackerConfig",
    "Tracks",
    "centreline_accuracy",
    "centreline_accuracy_details",
    "event_scores",
    "inverse_transform_points",
    "link_detections",
    "match_points",
    "register_pair",
    "register_series",
    "series_centrelines",
    "series_tracks",
    "track_events",
    "tracking_scores",
    "transform_points",
]
