"""Time-lapse tracking of boutons: tracks, ground truth of generated series, and metrics
(the original's centreline accuracy, CLEAR-MOT / IDF1, gain/loss events). Pure NumPy/SciPy."""

from jaxaxon.track.ground_truth import series_centrelines, series_tracks
from jaxaxon.track.metrics import (
    centreline_accuracy,
    centreline_accuracy_details,
    event_scores,
    match_points,
    track_events,
    tracking_scores,
)
from jaxaxon.track.tracks import Tracks

__all__ = [
    "Tracks",
    "centreline_accuracy",
    "centreline_accuracy_details",
    "event_scores",
    "match_points",
    "series_centrelines",
    "series_tracks",
    "track_events",
    "tracking_scores",
]
