"""The application layer: people in photos, from keypoints to bodies to files.

One spine for ``hmrflow demo``, ``demo-multiview``, ``fit`` and ``fit-multiview``:
:mod:`~hmrflow.application.inputs` (photos, keypoint files of every format, the person
filter), :mod:`~hmrflow.application.calibration` (the calibration files),
:mod:`~hmrflow.application.pipeline` (keypoints -> the model's distribution -> the fit),
:mod:`~hmrflow.application.results` (the records), :mod:`~hmrflow.application.outputs`
(the writers), :mod:`~hmrflow.application.viewer` (the HTML viewer) and
:mod:`~hmrflow.application.multiview` (several calibrated views); the 2D keypoint
detector, :mod:`~hmrflow.application.detector` (mediapipe in its own environment, run by
:mod:`~hmrflow.application.detect_worker`); how figures show a person,
:mod:`~hmrflow.application.upright_view`; and videos: :mod:`~hmrflow.application.video_pipeline`
(frames -> detections -> tracks -> temporal fits), its records
:mod:`~hmrflow.application.video_results` and :mod:`~hmrflow.application.video_outputs`.
"""
