"""The history app keeps no tables of its own: daily rollups live in posture.models."""
