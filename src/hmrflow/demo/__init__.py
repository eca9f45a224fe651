"""The photo demo: keypoints (files or a detector) -> the model's distribution -> fit -> outputs.

See :mod:`hmrflow.demo.pipeline` (the steps), :mod:`hmrflow.demo.outputs` (the files),
:mod:`hmrflow.demo.viewer` (the HTML viewer), :mod:`hmrflow.demo.detector` (mediapipe in
its own environment) and :mod:`hmrflow.demo.multiview` (several calibrated views).
"""
