"""The 2D keypoint detector (mediapipe in its own environment): :mod:`hmrflow.demo.detector`.

The application code (inputs, pipeline, records, writers, viewer) is :mod:`hmrflow.application`.
"""
