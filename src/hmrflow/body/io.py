r"""Body model files: official SMPL ``.pkl`` (read without chumpy) and ``.npz``.

Arrays, SMPL's names and shapes (``N`` vertices, ``J`` joints, ``S`` shape components,
``F`` faces, ``P = 9 (J - 1)``):

=================  ===========  =====================================================
key                shape        meaning
=================  ===========  =====================================================
``v_template``     (N, 3)       rest-pose template mesh
``shapedirs``      (N, 3, S)    shape blend shapes
``posedirs``       (N, 3, P)    pose blend shapes
``J_regressor``    (J, N)       joints from the shaped rest mesh (dense or sparse)
``weights``        (N, J)       skinning weights
``kintree_table``  (2, J)       row 0 parent ids (root: -1 or 2^32 - 1), row 1 joint ids
``f``              (F, 3)       triangles
=================  ===========  =====================================================

Our ``.npz`` format is SMPL's npz layout plus ``name`` and, per keypoint set ``<set>``,
``keypoints.<set>.names`` (K,), ``keypoints.<set>.vertex_weights`` (K, N) and
``keypoints.<set>.joint_weights`` (K, J). Every problem with a file raises
:class:`BodyModelFileError` naming the file and what is wrong.
"""

from __future__ import annotations

import codecs
import copyreg
import os
import pickle
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hmrflow.errors import BodyModelFileError

__all__ = [
    "BodyModelArrays",
    "BodyModelFileError",
    "check_body_arrays",
    "read_body_file",
    "write_body_file",
]

FORMAT_VERSION = 1
_REQUIRED_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")
_SET_NAME = re.compile(r"^[A-Za-z0-9_\-]+$")


@dataclass
class BodyModelArrays:
    """The arrays of a body model, as numpy (float arrays float32, indices int64).

    ``keypoint_sets`` maps a set name to ``(names, vertex_weights (K, N), joint_weights (K, J))``.
    """

    template: np.ndarray
    shapedirs: np.ndarray
    posedirs: np.ndarray
    joint_regressor: np.ndarray
    weights: np.ndarray
    parents: tuple[int, ...]
    faces: np.ndarray
    keypoint_sets: dict[str, tuple[tuple[str, ...], np.ndarray, np.ndarray]] = field(default_factory=dict)
    name: str = "body"


def check_body_arrays(
    template: Any,
    shapedirs: Any,
    posedirs: Any,
    joint_regressor: Any,
    weights: Any,
    parents: Sequence[int],
    faces: Any,
    keypoint_sets: Mapping[str, tuple[Sequence[str], Any, Any]] = {},
) -> None:
    """Raise ``ValueError`` saying what is wrong if the shapes are inconsistent.

    Accepts numpy arrays or tensors (anything with ``.shape``).
    """
    n = template.shape[0] if template.ndim == 2 else -1
    j = len(parents)
    expect = {
        "template": (template, (n, 3)),
        "shapedirs": (shapedirs, (n, 3, shapedirs.shape[-1] if shapedirs.ndim == 3 else -1)),
        "posedirs": (posedirs, (n, 3, 9 * (j - 1))),
        "joint_regressor": (joint_regressor, (j, n)),
        "weights": (weights, (n, j)),
        "faces": (faces, (faces.shape[0] if faces.ndim == 2 else -1, 3)),
    }
    for key, (array, shape) in expect.items():
        if tuple(array.shape) != shape or -1 in shape:
            raise ValueError(
                f"{key} has shape {tuple(array.shape)}, expected {shape} "
                f"(N = {n} vertices from the template, J = {j} joints from the parents)"
            )
    if j < 1 or parents[0] != -1 or any(not 0 <= p < i for i, p in enumerate(parents) if i > 0):
        raise ValueError(f"parents must be -1 for joint 0 and 0 <= parent < joint after it, got {tuple(parents)}")
    if faces.shape[0] and (int(faces.min()) < 0 or int(faces.max()) >= n):
        raise ValueError(f"faces index vertices outside [0, {n})")
    for set_name, (names, vw, jw) in keypoint_sets.items():
        if not _SET_NAME.match(set_name):
            raise ValueError(f"keypoint set name {set_name!r} must match {_SET_NAME.pattern}")
        k = len(names)
        if tuple(vw.shape) != (k, n) or tuple(jw.shape) != (k, j):
            raise ValueError(
                f"keypoint set {set_name!r}: {k} names need vertex_weights ({k}, {n}) and joint_weights "
                f"({k}, {j}), got {tuple(vw.shape)} and {tuple(jw.shape)}"
            )


# ----------------------------------------------------------------------------- pickle


class _StubObject:
    """Stands in for a chumpy or scipy.sparse object: records the pickled state."""

    module = ""
    qualname = ""
    args: tuple[Any, ...] = ()
    state: Any = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.state = args, None

    def __setstate__(self, state: Any) -> None:
        self.state = state


def _stub_class(module: str, name: str) -> type:
    return type(name, (_StubObject,), {"module": module, "qualname": name})


def _numpy_global(module: str, name: str) -> Any:
    """The few numpy callables that pickled arrays need (numpy 1 or 2 names)."""
    if module == "numpy" and name in ("ndarray", "dtype"):
        return getattr(np, name)
    core = module.split(".")
    if core[:2] in (["numpy", "core"], ["numpy", "_core"]) and name in ("_reconstruct", "scalar", "_frombuffer"):
        try:
            from numpy._core import multiarray, numeric  # numpy >= 2
        except ImportError:  # pragma: no cover - numpy 1
            from numpy.core import multiarray, numeric  # type: ignore[no-redef]
        return getattr(numeric if name == "_frombuffer" else multiarray, name)
    return None


_SAFE_GLOBALS: dict[tuple[str, str], Any] = {
    ("copy_reg", "_reconstructor"): copyreg._reconstructor,  # type: ignore[attr-defined]
    ("copyreg", "_reconstructor"): copyreg._reconstructor,  # type: ignore[attr-defined]
    ("_codecs", "encode"): codecs.encode,
    ("__builtin__", "object"): object,
    ("builtins", "object"): object,
    ("__builtin__", "set"): set,
    ("builtins", "set"): set,
}


class _SmplUnpickler(pickle.Unpickler):
    """Unpickler for SMPL files: numpy arrays, chumpy and scipy.sparse replaced by stubs.

    Any other global is refused, so a pickle cannot run arbitrary code.
    """

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _SAFE_GLOBALS:
            return _SAFE_GLOBALS[(module, name)]
        if module == "chumpy" or module.startswith(("chumpy.", "scipy.sparse")):
            return _stub_class(module, name)
        found = _numpy_global(module, name)
        if found is None:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")
        return found


def _chumpy_array(obj: _StubObject) -> np.ndarray:
    """The array a chumpy object pickled in its state (key ``'x'`` of its ``__dict__``)."""
    state = obj.state[0] if isinstance(obj.state, tuple) else obj.state
    if isinstance(state, dict):
        for key in ("x", "a"):
            if isinstance(state.get(key), np.ndarray):
                return np.asarray(state[key])
    raise ValueError(f"cannot find the array inside the chumpy object {obj.module}.{obj.qualname}")


def _sparse_dense(obj: _StubObject) -> np.ndarray:
    """Dense array from a pickled scipy.sparse csc/csr/coo matrix, without scipy."""
    state = obj.state if isinstance(obj.state, dict) else {}
    shape = tuple(state.get("_shape", state.get("shape", ())))
    kind = obj.qualname[:3]
    dense = np.zeros(shape, dtype=np.float64)
    if kind in ("csc", "csr"):
        data, indices, indptr = (np.asarray(state[k]) for k in ("data", "indices", "indptr"))
        outer = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
        rows, cols = (indices, outer) if kind == "csc" else (outer, indices)
        np.add.at(dense, (rows, cols), data)
    elif kind == "coo":
        rows, cols = state["coords"] if "coords" in state else (state["row"], state["col"])
        np.add.at(dense, (np.asarray(rows), np.asarray(cols)), np.asarray(state["data"]))
    else:
        raise ValueError(f"unsupported sparse matrix type {obj.qualname}")
    return dense


def _plain(value: Any) -> Any:
    """Replace stubs by numpy arrays."""
    if isinstance(value, _StubObject):
        return _sparse_dense(value) if value.module.startswith("scipy") else _chumpy_array(value)
    return value


def _read_pickle(path: Path) -> dict[str, Any]:
    with open(path, "rb") as handle:
        data = _SmplUnpickler(handle, encoding="latin1").load()
    if not isinstance(data, dict):
        raise ValueError(f"expected a dict of arrays, found {type(data).__name__}")
    return {str(key): value for key, value in data.items()}


# ----------------------------------------------------------------------------- npz


def _read_npz(path: Path) -> dict[str, Any]:
    with np.load(path, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


def _parents(kintree_table: Any) -> tuple[int, ...]:
    table = np.asarray(kintree_table).astype(np.int64)
    if table.ndim != 2 or table.shape[0] != 2:
        raise ValueError(f"kintree_table has shape {table.shape}, expected (2, J)")
    column = {int(joint): i for i, joint in enumerate(table[1])}
    return tuple(column.get(int(parent), -1) for parent in table[0])


def _keypoint_sets(data: Mapping[str, Any]) -> dict[str, tuple[tuple[str, ...], np.ndarray, np.ndarray]]:
    sets = {}
    for key in sorted(data):
        match = re.fullmatch(r"keypoints\.(.+)\.names", key)
        if match:
            name = match.group(1)
            vw, jw = (f"keypoints.{name}.{part}" for part in ("vertex_weights", "joint_weights"))
            for needed in (vw, jw):
                if needed not in data:
                    raise ValueError(f"missing key {needed!r} for keypoint set {name!r}")
            names = tuple(str(s) for s in np.asarray(data[key]).reshape(-1))
            sets[name] = (names, _float32(data[vw], vw), _float32(data[jw], jw))
    return sets


def _float32(value: Any, key: str) -> np.ndarray:
    array = np.asarray(_plain(value))
    if not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"{key} is not numeric (dtype {array.dtype})")
    if not np.isfinite(array).all():
        raise ValueError(f"{key} contains non-finite values")
    return np.ascontiguousarray(array, dtype=np.float32)


def _arrays_from_dict(data: Mapping[str, Any], default_name: str) -> BodyModelArrays:
    absent = [key for key in _REQUIRED_KEYS if key not in data]
    if absent:
        raise ValueError(f"missing keys {absent} (present: {sorted(data)})")
    faces = np.asarray(_plain(data["f"]))
    if not np.issubdtype(faces.dtype, np.integer):
        raise ValueError(f"f (faces) must be integer, got dtype {faces.dtype}")
    name = str(np.asarray(data["name"]).reshape(())) if "name" in data else default_name
    arrays = BodyModelArrays(
        template=_float32(data["v_template"], "v_template"),
        shapedirs=_float32(data["shapedirs"], "shapedirs"),
        posedirs=_float32(data["posedirs"], "posedirs"),
        joint_regressor=_float32(data["J_regressor"], "J_regressor"),
        weights=_float32(data["weights"], "weights"),
        parents=_parents(_plain(data["kintree_table"])),
        faces=faces.astype(np.int64),
        keypoint_sets=_keypoint_sets(data),
        name=name,
    )
    check_body_arrays(
        arrays.template, arrays.shapedirs, arrays.posedirs, arrays.joint_regressor,
        arrays.weights, arrays.parents, arrays.faces, arrays.keypoint_sets,
    )  # fmt: skip
    return arrays


def read_body_file(path: str | os.PathLike[str]) -> BodyModelArrays:
    """Read a ``.pkl`` (official SMPL, chumpy inside) or ``.npz`` body model file.

    Raises:
        BodyModelFileError: the file is missing, unreadable, truncated, lacks a key or
            holds arrays of inconsistent shapes; the message names the file.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".pkl", ".npz"):
        raise BodyModelFileError(f"{path}: unsupported extension {path.suffix!r} (expected .pkl or .npz)")
    if not path.is_file():
        raise BodyModelFileError(f"{path}: no such file")
    try:
        data = _read_pickle(path) if suffix == ".pkl" else _read_npz(path)
        return _arrays_from_dict(data, default_name=path.stem)
    except BodyModelFileError:
        raise
    except Exception as error:  # any parse or consistency failure: say which file
        kind = "SMPL pickle" if suffix == ".pkl" else "npz archive"
        raise BodyModelFileError(
            f"{path}: not a readable body model file (a damaged or foreign {kind}: {type(error).__name__}: {error})"
        ) from error


def write_body_file(path: str | os.PathLike[str], arrays: BodyModelArrays) -> None:
    """Write our ``.npz`` format (SMPL's npz keys plus name and keypoint sets), atomically."""
    path = Path(path)
    data: dict[str, np.ndarray] = {
        "v_template": np.asarray(arrays.template, dtype=np.float32),
        "shapedirs": np.asarray(arrays.shapedirs, dtype=np.float32),
        "posedirs": np.asarray(arrays.posedirs, dtype=np.float32),
        "J_regressor": np.asarray(arrays.joint_regressor, dtype=np.float32),
        "weights": np.asarray(arrays.weights, dtype=np.float32),
        "kintree_table": np.stack([np.asarray(arrays.parents), np.arange(len(arrays.parents))]).astype(np.int64),
        "f": np.asarray(arrays.faces, dtype=np.int64),
        "name": np.asarray(arrays.name),
        "hmrflow_format_version": np.asarray(FORMAT_VERSION),
    }
    for set_name, (names, vw, jw) in arrays.keypoint_sets.items():
        data[f"keypoints.{set_name}.names"] = np.asarray(names, dtype=np.str_)
        data[f"keypoints.{set_name}.vertex_weights"] = np.asarray(vw, dtype=np.float32)
        data[f"keypoints.{set_name}.joint_weights"] = np.asarray(jw, dtype=np.float32)
    handle, temporary = tempfile.mkstemp(suffix=".npz.tmp", dir=path.parent or ".")
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez_compressed(stream, **data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
