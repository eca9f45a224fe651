"""Left/right label swaps (hmrflow.fitting.mirror): the swap, and the labelling check."""

from __future__ import annotations

import pytest
import torch

from hmrflow import load_model
from hmrflow.data.keypoint_files import EVIDENCE_NAMES
from hmrflow.data.synthetic import SyntheticKeypoints, make_evaluation_set
from hmrflow.errors import InputError
from hmrflow.fitting.keypoint_fit import FitConfig, fit_keypoints, learned_prior_energy, regress
from hmrflow.fitting.mirror import (
    LabellingCheck,
    MirrorConfig,
    check_labelling,
    fit_energy,
    mirror_keypoints,
    mirror_people,
)
from hmrflow.fitting.people import People
from hmrflow.models import ProbabilisticHMR


def _twin(name: str) -> str:
    if name.startswith("left_"):
        return "right_" + name[5:]
    return "left_" + name[6:] if name.startswith("right_") else name


def test_swap_is_an_involution_that_maps_left_names_to_right_names() -> None:
    points = torch.randn(3, len(EVIDENCE_NAMES), 3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(mirror_keypoints(mirror_keypoints(points)), points)
    labels = torch.arange(len(EVIDENCE_NAMES), dtype=torch.float32)[:, None]
    swapped = [EVIDENCE_NAMES[int(i)] for i in mirror_keypoints(labels)[:, 0]]
    assert swapped == [_twin(name) for name in EVIDENCE_NAMES]
    assert swapped[EVIDENCE_NAMES.index("nose")] == "nose" and swapped != list(EVIDENCE_NAMES)


def test_swap_is_the_synthetic_corruption_swap(shipped: ProbabilisticHMR) -> None:
    generator = SyntheticKeypoints(shipped.body, None)
    labels = torch.arange(len(generator.names))[:, None]
    assert mirror_keypoints(labels, generator.names)[:, 0].tolist() == list(generator.flip_order)
    assert shipped.evidence_names == EVIDENCE_NAMES


def test_bad_inputs_are_named() -> None:
    with pytest.raises(InputError, match="23"):
        mirror_keypoints(torch.zeros(2, 17, 3))
    with pytest.raises(InputError, match="margin"):
        MirrorConfig(margin=-1.0)
    people = People.from_keypoints(torch.rand(2, 23, 3) * 100, torch.tensor([640.0, 480.0]))
    with pytest.raises(InputError, match="image model"):
        mirror_people(People(**{**people.__dict__, "evidence": torch.zeros(2, 3, 8, 8)}))


def test_mirrored_people_keep_each_points_depth() -> None:
    keypoints = torch.cat([torch.rand(2, 23, 2) * 100, torch.ones(2, 23, 1), torch.randn(2, 23, 1) * 20], -1)
    people = People.from_keypoints(keypoints, torch.tensor([640.0, 480.0]))
    mirrored = mirror_people(people)
    assert torch.equal(mirrored.evidence, mirror_keypoints(people.evidence))
    assert mirrored.evidence.shape == (2, 23, 4) and torch.equal(mirror_people(mirrored).evidence, people.evidence)


@pytest.fixture(scope="module")
def shipped() -> ProbabilisticHMR:
    return load_model()


@pytest.fixture(scope="module")
def near_people(shipped: ProbabilisticHMR) -> People:
    """Synthetic people nearer than 4.5 m (clean keypoints): perspective tells the sides apart."""
    data = make_evaluation_set(SyntheticKeypoints(shipped.body, None), 32, seed=3)
    near = data.translation[:, 2] < 4.5
    assert int(near.sum()) >= 3
    return People.from_keypoints(data.clean_2d[near], data.image_size[near], data.focal_length[near])


@pytest.fixture(scope="module")
def correct(shipped: ProbabilisticHMR, near_people: People) -> LabellingCheck:
    """The check on the people as labelled."""
    return check_labelling(shipped, near_people)


def test_check_recovers_mirrored_labels_and_leaves_correct_ones(
    shipped: ProbabilisticHMR, near_people: People, correct: LabellingCheck
) -> None:
    mirrored = check_labelling(shipped, mirror_people(near_people))
    # Most near people are told apart both ways (the shipped model prefers the mirror image of
    # one of these four; benchmarks/bench_mirror.py measures the rates on real people).
    right = ~correct.swapped & mirrored.swapped
    assert right.float().mean() >= 0.75
    assert torch.equal(correct.people.keypoints[right], near_people.keypoints[right])
    assert torch.equal(correct.fit.rotmats[right], correct.given_fit.rotmats[right])
    assert (correct.gain[right] < -MirrorConfig().margin).all()
    assert torch.equal(mirrored.people.keypoints[right], near_people.keypoints[right])  # the labels put back
    assert torch.equal(mirrored.fit.rotmats[right], mirrored.mirrored_fit.rotmats[right])
    torch.testing.assert_close(mirrored.mirrored_energy[right], correct.energy[right], rtol=0.1, atol=5.0)


def test_a_large_margin_keeps_the_given_labels(
    shipped: ProbabilisticHMR, near_people: People, correct: LabellingCheck
) -> None:
    clearest = int(correct.gain.argmin())  # the person told apart most clearly
    person = near_people[clearest : clearest + 1]
    check = check_labelling(shipped, mirror_people(person), MirrorConfig(margin=1e9))
    assert not check.swapped.any() and check.gain.item() > 0
    assert torch.equal(check.fit.z, check.given_fit.z)


def test_fit_energy_is_the_fitters_energy(shipped: ProbabilisticHMR, near_people: People) -> None:
    config = FitConfig(drop_hips=True)
    start = regress(shipped, near_people)
    fit = fit_keypoints(shipped, near_people, config, start)
    energy = learned_prior_energy(shipped, near_people, config, start)
    with torch.no_grad():
        expected = energy(fit.z, fit.betas, fit.translation)
    torch.testing.assert_close(fit_energy(near_people, fit, config), expected, rtol=1e-4, atol=1e-3)
