"""The pipeline with an image-conditioned model: it sees a crop of the person box."""

from __future__ import annotations

import numpy as np
import torch

from hmrflow.application.demo_config import DemoConfig
from hmrflow.application.inputs import load_photo, read_keypoint_file, sidecar_path
from hmrflow.application.prediction import image_crops, predict_people
from hmrflow.cli.demo import bundled_images


def test_crops_cover_the_person_box():
    photo = load_photo(bundled_images()[0])
    crops = image_crops(photo.pixels, torch.tensor([[270.0, 480.0]]), torch.tensor([200.0]), 64)
    assert crops.shape == (1, 3, 64, 64)
    from hmrflow.models.resnet import IMAGENET_MEAN, IMAGENET_STD

    rgb = crops[0] * torch.tensor(IMAGENET_STD)[:, None, None] + torch.tensor(IMAGENET_MEAN)[:, None, None]
    centre = photo.pixels[380:580, 170:370].reshape(-1, 3).mean(0) / 255
    assert np.allclose(rgb.mean((1, 2)).numpy(), centre, atol=0.03)


def test_an_image_model_runs_the_demo_steps():
    from hmrflow.flows import FlowConfig
    from hmrflow.models import ProbabilisticHMR
    from hmrflow.models.config import EncoderConfig, ModelConfig

    torch.manual_seed(0)
    config = ModelConfig(encoder=EncoderConfig(kind="image", backbone_depth=18),
                         flow=FlowConfig(context_features=512, hidden_features=32), head_hidden=32)  # fmt: skip
    model = ProbabilisticHMR(config).eval()
    image = bundled_images()[0]
    photo = load_photo(image)
    keypoints = read_keypoint_file(sidecar_path(image)).people[0][None]
    people = predict_people(model, photo.pixels, keypoints, DemoConfig(num_samples=2, fit=True, fit_steps=1))
    person = people[0]
    assert person.fit is not None and person.sample_vertices.shape[0] == 2
    assert np.isfinite(person.vertices).all() and person.translation[2] > 0


def test_a_box_frame_model_gives_the_demo_camera_frame_poses(tiny_model_path):
    """The records hold camera-frame poses: a box model's mode and samples turned onto the person
    box's ray, the rest as the same weights read in the camera frame; the fit's likelihood is the
    model's for the fitted pose turned back into the box frame."""
    import copy
    from dataclasses import replace

    from hmrflow.fitting.people import People
    from hmrflow.models.checkpoint import load_model

    camera_model = load_model(tiny_model_path)
    box_model = copy.deepcopy(camera_model)
    box_model.config = replace(camera_model.config, orientation_frame="box")
    image = bundled_images()[0]
    photo = load_photo(image)
    keypoints = read_keypoint_file(sidecar_path(image)).people[0][None]
    config = DemoConfig(num_samples=3, fit=False)
    camera = predict_people(camera_model, photo, keypoints, config)[0]
    box = predict_people(box_model, photo, keypoints, config)[0]
    people = People.from_camera(torch.as_tensor(keypoints), camera.camera[None], config.box_scale)
    turn = people.box_rotation()[0].numpy()
    for ours, theirs in ((box.mode, camera.mode), (box.samples, camera.samples)):
        np.testing.assert_allclose(ours.rotmats[:, 0], turn @ theirs.rotmats[:, 0], atol=1e-5)
        np.testing.assert_allclose(ours.rotmats[:, 1:], theirs.rotmats[:, 1:], atol=1e-6)
        np.testing.assert_allclose(ours.log_prob, theirs.log_prob, rtol=1e-5)
    fitted = predict_people(box_model, photo, keypoints, replace(config, fit=True, fit_steps=2, mirror_check=False))[0]
    assert fitted.fit is not None and np.isfinite(fitted.fit.log_prob).all()
