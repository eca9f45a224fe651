"""`hmrflow demo-multiview` with a view that fails: the others go on, the status says so."""

from __future__ import annotations

import shutil

from hmrflow.application.inputs import sidecar_path
from hmrflow.application.multiview import bundled_multiview
from hmrflow.cli.main import main


def copy_instant(folder) -> list:  # noqa: ANN001
    """The bundled instant's photos, keypoints and calibration in ``folder``; returns the photos."""
    images, calibration = bundled_multiview()
    shutil.copy(calibration, folder / "calibration.json")
    for image in images:
        shutil.copy(image, folder / image.name)
        shutil.copy(sidecar_path(image), sidecar_path(folder / image.name))
    return [folder / image.name for image in images]


def multiview(model, out, images, folder) -> int:  # noqa: ANN001
    return main(["demo-multiview", *map(str, images), "--calibration", str(folder / "calibration.json"),
                 "--model", str(model), "--out", str(out), "--samples", "1", "--no-fit", "--steps", "1",
                 "--detect", "never", "--device", "cpu"])  # fmt: skip


def test_a_broken_view_is_left_out_and_the_others_are_fitted(tiny_model_path, tmp_path, capsys):
    images = copy_instant(tmp_path)
    images[1].write_bytes(b"not a photo")
    out = tmp_path / "out"
    assert multiview(tiny_model_path, out, images, tmp_path) == 1
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines()[-1] == f"1 of 4 views failed: {images[1].name}"
    assert "calibrated fit" in captured.out
    assert (out / "calibrated" / "params.json").is_file()
    index = (out / "index.html").read_text()
    assert "the check" in index and "failed:" in index and "not an image or is corrupt" in index


def test_with_one_view_left_there_is_no_multiview_fit_but_the_view_is_kept(tiny_model_path, tmp_path, capsys):
    images = copy_instant(tmp_path)[:3]
    for image in images[1:]:
        image.write_bytes(b"not a photo")
    out = tmp_path / "out"
    assert multiview(tiny_model_path, out, images, tmp_path) == 1
    captured = capsys.readouterr()
    assert "no multi-view fit: 1 of 3 views worked" in captured.out
    assert captured.err.strip().splitlines()[-1] == f"2 of 3 views failed: {images[1].name}, {images[2].name}"
    assert (out / f"view0_{images[0].stem}" / "person0" / "params.json").is_file()
    assert not (out / "calibrated").exists()
    assert "fewer than two views worked" in (out / "index.html").read_text()
