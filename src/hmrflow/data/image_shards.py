r"""Shards of synthetic images: writing them (in parallel), reading them back, a torch Dataset.

A dataset is a folder:

* ``index.json``: format name and version, the generation settings (body, seed,
  configuration), the keypoint names and the list of shards with their sizes;
* ``shard-000000.tar``, ...: per example ``{key}.jpg`` (and ``{key}.parts.png``, part
  labels + 1 as uint8, 0 background, when made); a plain tar, so ``tar xf`` shows it;
* ``shard-000000.npz``, ...: the labels of the shard's examples stacked
  (:data:`~hmrflow.data.synthetic_images.LABEL_FIELDS`, first dimension the example),
  their ``key`` s and the byte ``offset`` / ``size`` of each member inside the tar.

Shard ``i`` depends only on ``(seed, i)`` and the settings, never on the number of
worker processes, so a dataset is reproducible. :func:`generate_shards` writes one;
:class:`ImageShards` reads examples back exactly (the JPEG bytes are stored once); and
:class:`SyntheticImageDataset` serves them as ProHMR-format training crops: it is a
:class:`~hmrflow.data.prohmr_format.ProHMRDataset` whose images come from the shards,
so the crop, the augmentation (:mod:`hmrflow.data.augment`) and the sample type
(:class:`~hmrflow.data.prohmr_format.ProHMRSample`) are the same code as for real data.

Example (``hmrflow render images DIR --num N --workers W`` does the same from the shell):
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> results = generate_shards(root, 3, body="anny_lowpoly", shard_size=2,
    ...                         config=SyntheticImageConfig(resolution=64), progress=False)
    >>> len(ImageShards(root)), SyntheticImageDataset(root, train=True, seed=0)[2].image.shape
    (3, torch.Size([3, 224, 224]))
    >>> import shutil; shutil.rmtree(root)
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
import tarfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hmrflow.data.prohmr_format import ProHMRArrays, ProHMRDataset, ProHMRDatasetConfig
from hmrflow.data.synthetic_images import LABEL_FIELDS, ImageExample, SyntheticImageConfig, encode_jpeg
from hmrflow.errors import ShardFormatError

__all__ = [
    "FORMAT",
    "INDEX_FILE",
    "ImageShards",
    "ShardExample",
    "ShardResult",
    "SyntheticImageDataset",
    "generate_shards",
    "make_shard",
    "to_prohmr_arrays",
    "write_shard",
]

log = logging.getLogger(__name__)

FORMAT = "hmrflow-synthetic-images"
FORMAT_VERSION = 1
INDEX_FILE = "index.json"


def shard_name(index: int) -> str:
    return f"shard-{index:06d}"


def shard_seed(seed: int, index: int) -> int:
    """The seed of shard ``index``: distinct shards get unrelated streams."""
    return (seed * 1_000_003 + index * 7_919 + 17) % 2**62


# ---------------------------------------------------------------------- writing


def write_shard(path: str | os.PathLike[str], examples: list[ImageExample], keys: list[str]) -> None:
    """Write ``examples`` as ``path.tar`` (images) and ``path.npz`` (stacked labels, offsets)."""
    from PIL import Image

    path = Path(path)
    tar_path = path.with_suffix(".tar")
    with tarfile.open(tar_path, "w", format=tarfile.USTAR_FORMAT) as tar:
        for key, example in zip(keys, examples):
            _add(tar, f"{key}.jpg", encode_jpeg(example.image, example.jpeg_quality))
            if example.parts is not None:
                buffer = io.BytesIO()
                Image.fromarray((example.parts + 1).astype(np.uint8)).save(buffer, format="PNG")
                _add(tar, f"{key}.parts.png", buffer.getvalue())
    members = {}
    with tarfile.open(tar_path, "r") as tar:
        for member in tar.getmembers():
            members[member.name] = (member.offset_data, member.size)
    arrays: dict[str, np.ndarray] = {
        name: np.stack([np.asarray(e.labels[name], dtype=np.float32) for e in examples]) for name in LABEL_FIELDS
    }
    arrays["key"] = np.array(keys)
    arrays["jpg"] = np.array([members[f"{k}.jpg"] for k in keys], dtype=np.int64).reshape(-1, 2)
    if all(e.parts is not None for e in examples) and examples:
        arrays["parts"] = np.array([members[f"{k}.parts.png"] for k in keys], dtype=np.int64).reshape(-1, 2)
    np.savez(path.with_suffix(".npz"), **arrays)


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0  # reproducible bytes
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


@dataclass(frozen=True)
class _Job:
    root: str
    index: int
    count: int
    first_key: int
    seed: int
    body: str
    config: SyntheticImageConfig


#: In a worker process: its generator (and renderer) for given settings, made on first use.
_WORKER_GENERATORS: dict[tuple[str, str], Any] = {}


def _new_generator(body: str, config: SyntheticImageConfig) -> Any:
    from hmrflow.data.pose_sources import load_cmu_demo
    from hmrflow.data.synthetic_images import SyntheticImages

    return SyntheticImages(_load_body(body), load_cmu_demo().rotmats, config)


def _worker_generator(body: str, config: SyntheticImageConfig) -> Any:
    key = (body, repr(config))
    if key not in _WORKER_GENERATORS:
        _WORKER_GENERATORS[key] = _new_generator(body, config)
    return _WORKER_GENERATORS[key]


def _load_body(body: str) -> Any:
    from hmrflow.body import BodyModel

    return BodyModel.from_file(body) if Path(body).suffix in (".npz", ".pkl") else BodyModel.from_name(body)


@dataclass(frozen=True)
class ShardResult:
    """What making one shard did: its index, examples and seconds (generator start-up excluded)."""

    index: int
    count: int
    seconds: float


def make_shard(job: _Job, generator: Any = None) -> ShardResult:
    """Generate and write one shard (in a worker: with the worker's own generator)."""
    if generator is None:
        torch.set_num_threads(1)  # a worker process of ours: one thread each
        generator = _worker_generator(job.body, job.config)
    start = time.perf_counter()
    examples = generator.sample(job.count, torch.Generator().manual_seed(shard_seed(job.seed, job.index)))
    keys = [f"{job.first_key + i:09d}" for i in range(job.count)]
    write_shard(Path(job.root) / shard_name(job.index), examples, keys)
    return ShardResult(job.index, job.count, time.perf_counter() - start)


def generate_shards(
    root: str | os.PathLike[str],
    num_images: int,
    *,
    body: str = "anny",
    config: SyntheticImageConfig | None = None,
    seed: int = 0,
    shard_size: int = 256,
    workers: int = 0,
    progress: bool = True,
) -> list[ShardResult]:
    r"""Generate ``num_images`` synthetic images into the folder ``root`` (index: ``root/index.json``).

    Arguments:
        body: A shipped body model name (``anny``, ``anny_lowpoly``) or a body file.
        config: :class:`~hmrflow.data.synthetic_images.SyntheticImageConfig`.
        seed: Dataset seed; shard ``i`` depends only on ``(seed, i)``.
        shard_size: Examples per shard (the last shard may be smaller).
        workers: Worker processes (each with its own renderer); 0 generates here.
        progress: Show a tqdm progress bar (images).

    Returns:
        One :class:`ShardResult` per shard, in shard order (timings for benchmarks).
    """
    from tqdm.auto import tqdm

    config = config or SyntheticImageConfig()
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    count = math.ceil(num_images / shard_size)
    jobs = [
        _Job(str(root), i, min(shard_size, num_images - i * shard_size), i * shard_size, seed, body, config)
        for i in range(count)
    ]
    bar = tqdm(total=num_images, unit="img", desc="synthetic images", disable=not progress)
    results: list[ShardResult] = []
    if workers > 0:
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
            for future in as_completed([pool.submit(make_shard, job) for job in jobs]):
                results.append(future.result())
                bar.update(results[-1].count)
    else:
        with _new_generator(body, config) as generator:
            for job in jobs:
                results.append(make_shard(job, generator))
                bar.update(results[-1].count)
    bar.close()
    index = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "body": body,
        "seed": seed,
        "config": _jsonable(asdict(config)),
        "keypoint_names": _keypoint_names(body, config),
        "label_fields": list(LABEL_FIELDS),
        "num_images": num_images,
        "shards": [{"name": shard_name(job.index), "count": job.count} for job in jobs],
    }
    (root / INDEX_FILE).write_text(json.dumps(index, indent=1))
    return sorted(results, key=lambda r: r.index)


def _keypoint_names(body: str, config: SyntheticImageConfig) -> list[str]:
    model = _load_body(body)
    return [n for s in config.keypoints.evidence_sets for n in model.keypoint_sets[s].names]


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


# ---------------------------------------------------------------------- reading


@dataclass(frozen=True)
class ShardExample:
    r"""One example read back.

    Attributes:
        image: ``(R, R, 3)`` uint8 (the decoded JPEG).
        labels: :data:`~hmrflow.data.synthetic_images.LABEL_FIELDS` name -> float32 array.
        key: The example's key (its number in the dataset, 9 digits).
        parts: ``(R, R)`` int16 part labels (-1 background) or None.
    """

    image: np.ndarray
    labels: dict[str, np.ndarray]
    key: str
    parts: np.ndarray | None = None


class ImageShards:
    r"""Random access to the examples of a dataset folder written by :func:`generate_shards`.

    Labels of every example are loaded at construction (a few KB each); images are read
    on demand with positioned reads, safe in ``DataLoader`` worker processes.
    """

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)
        index_path = self.root / INDEX_FILE
        if not index_path.is_file():
            raise FileNotFoundError(f"no {INDEX_FILE} in {self.root}: not a synthetic image dataset")
        self.index = json.loads(index_path.read_text())
        if self.index.get("format") != FORMAT or self.index.get("version") != FORMAT_VERSION:
            found = f"format {self.index.get('format')!r} version {self.index.get('version')!r}"
            raise ShardFormatError(f"{index_path}: {found}, expected {FORMAT!r} {FORMAT_VERSION}")
        parts: dict[str, list[np.ndarray]] = {}
        self._shard_of: list[np.ndarray] = []
        for number, shard in enumerate(self.index["shards"]):
            with np.load(self.root / f"{shard['name']}.npz", allow_pickle=False) as data:
                for name in data.files:
                    parts.setdefault(name, []).append(data[name])
            self._shard_of.append(np.full(shard["count"], number))
        self.labels = {name: np.concatenate(values) for name, values in parts.items()}
        self.shard_of = np.concatenate(self._shard_of) if self._shard_of else np.zeros(0, int)
        self._files: dict[int, int] = {}
        self._pid = os.getpid()

    @property
    def keypoint_names(self) -> tuple[str, ...]:
        return tuple(self.index["keypoint_names"])

    def __len__(self) -> int:
        return len(self.shard_of)

    def _read(self, shard: int, offset: int, size: int) -> bytes:
        if self._pid != os.getpid():  # a forked worker: its own file descriptors
            self._files, self._pid = {}, os.getpid()
        if shard not in self._files:
            name = self.index["shards"][shard]["name"]
            self._files[shard] = os.open(self.root / f"{name}.tar", os.O_RDONLY)
        return os.pread(self._files[shard], size, offset)

    def image_bytes(self, index: int) -> bytes:
        """The stored JPEG of example ``index``."""
        offset, size = self.labels["jpg"][index]
        return self._read(int(self.shard_of[index]), int(offset), int(size))

    def image(self, index: int) -> Any:
        """Example ``index``'s image as an RGB Pillow image."""
        from PIL import Image

        return Image.open(io.BytesIO(self.image_bytes(index))).convert("RGB")

    def __getitem__(self, index: int) -> ShardExample:
        from PIL import Image

        parts = None
        if "parts" in self.labels:
            offset, size = self.labels["parts"][index]
            png = self._read(int(self.shard_of[index]), int(offset), int(size))
            parts = np.asarray(Image.open(io.BytesIO(png))).astype(np.int16) - 1
        return ShardExample(
            image=np.asarray(self.image(index)),
            labels={name: self.labels[name][index] for name in LABEL_FIELDS},
            key=str(self.labels["key"][index]),
            parts=parts,
        )

    def close(self) -> None:
        for fd in self._files.values():
            os.close(fd)
        self._files = {}

    def __del__(self) -> None:
        try:
            if self._pid == os.getpid():
                self.close()
        except Exception:
            pass


def to_prohmr_arrays(shards: ImageShards) -> ProHMRArrays:
    r"""The shards' labels as :class:`~hmrflow.data.prohmr_format.ProHMRArrays`.

    2D keypoints are the clean projections (confidence = visibility) and 3D keypoints
    the exact camera-frame points (confidence 1), both placed at their BODY_25 names;
    the 19 extra points are absent (confidence 0). ``imgname`` holds the keys.
    """
    from hmrflow.body.keypoints import BODY_25
    from hmrflow.geometry.rotations import rotmat_to_rotvec

    labels, names = shards.labels, shards.keypoint_names
    n = len(shards)
    where = [(BODY_25.index(name), k) for k, name in enumerate(names) if name in BODY_25]
    body_2d = np.zeros((n, 25, 3), np.float32)
    body_3d = np.zeros((n, 25, 4), np.float32)
    for b, k in where:
        body_2d[:, b] = labels["clean_2d"][:, k]
        body_3d[:, b, :3] = labels["keypoints_3d"][:, k]
        body_3d[:, b, 3] = 1.0
    rotvec = rotmat_to_rotvec(torch.from_numpy(labels["rotmats"])).reshape(n, -1).numpy()
    return ProHMRArrays(
        imgname=labels["key"].astype(str),
        center=labels["box_center"].astype(np.float32),
        scale=(labels["box_size"] / 200.0).astype(np.float32),
        body_pose=rotvec.astype(np.float32),
        has_body_pose=np.ones(n, bool),
        betas=labels["betas"].astype(np.float32),
        has_betas=np.ones(n, bool),
        body_keypoints_2d=body_2d,
        extra_keypoints_2d=np.zeros((n, 19, 3), np.float32),
        body_keypoints_3d=body_3d,
        extra_keypoints_3d=np.zeros((n, 19, 4), np.float32),
    )


class SyntheticImageDataset(ProHMRDataset):
    r"""A synthetic image dataset as ProHMR-format training crops.

    The same crop, augmentation and :class:`~hmrflow.data.prohmr_format.ProHMRSample`
    as :class:`~hmrflow.data.prohmr_format.ProHMRDataset` (it is one), with the images
    read from the shards and the labels from :func:`to_prohmr_arrays`. Batch with
    ``DataLoader(data, batch_size, collate_fn=ProHMRSample.collate)``.

    Arguments:
        root: The dataset folder.
        config: :class:`~hmrflow.data.prohmr_format.ProHMRDatasetConfig` (default: ProHMR's
            augmentation, and no masking of BODY_25 3D points: synthetic ones are exact).
        train: Augment (else the plain crop of each box).
        seed: Augmentation seed (see ``ProHMRDataset``).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        config: ProHMRDatasetConfig | None = None,
        train: bool = False,
        seed: int | None = None,
    ):
        self.shards = ImageShards(root)
        config = config or ProHMRDatasetConfig(mask_body_3d=False)
        super().__init__(to_prohmr_arrays(self.shards), self.shards.root, config, train, seed)

    def load_image(self, index: int) -> Any:
        """The RGB Pillow image of example ``index`` (read from its shard)."""
        return self.shards.image(index)
