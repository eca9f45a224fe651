"""The application layer: people in photos, from keypoints to bodies to files.

One spine for ``hmrflow demo``, ``demo-multiview``, ``fit`` and ``fit-multiview``:
:mod:`~hmrflow.application.inputs` (photos, keypoint files of every format, the person
filter), :mod:`~hmrflow.application.calibration` (the calibration files),
:mod:`~hmrflow.application.pipeline` (keypoints -> the model's distribution -> the fit),
:mod:`~hmrflow.application.results` (the records), :mod:`~hmrflow.application.outputs`
(the writers), :mod:`~hmrflow.application.viewer` (the HTML viewer) and
:mod:`~hmrflow.application.multiview` (several calibrated views). The detector lives in
:mod:`hmrflow.demo.detector` (its own environment).
"""
