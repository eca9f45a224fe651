"""Which checkpoint a run resumes from, checked before the run writes anything.

``resume="last"`` takes the newest of the run's checkpoints *by the training step stored
in it*. ``last.ckpt`` is not always the newest: when it exists but is not the file
Lightning itself wrote (a copied or moved run folder, a second run in the same folder),
Lightning writes the new last checkpoint as ``last-v1.ckpt``. The step decides, not the
file's modification time: copying a run folder (``cp -r``, ``scp``, many sync tools)
gives every file the time of the copy, in no particular order, while the step belongs to
the run's state itself. Checkpoints with the same step are ordered by modification time.

A checkpoint that cannot be used (a truncated file, weights that are not finite) is
passed over with a warning that names it, for the newest usable one. Resuming needs the
same model (and the same trainable parameters and discriminator, which the optimiser
state depends on) as the checkpoint's; other settings may change (``trainer.max_steps``).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from hmrflow.config import config_differences
from hmrflow.errors import CheckpointError
from hmrflow.training.checkpoint import TrainingCheckpoint, read_training_checkpoint
from hmrflow.training.config import ExperimentConfig

__all__ = ["resume_checkpoint", "newest_checkpoint", "check_resumable"]

log = logging.getLogger(__name__)

#: Step checkpoints as :func:`hmrflow.training.train.build_trainer` names them (Lightning
#: adds ``-vN`` when the name is taken).
STEP_FILE = re.compile(r"step(\d+)(?:-v\d+)?\.ckpt")
#: Settings a resumed run must share with its checkpoint (prefixes of dotted keys).
_FIXED = ("model.", "trainer.trainable", "discriminator.enabled")


def resume_checkpoint(resume: str | Path, output_dir: Path) -> TrainingCheckpoint:
    """The checkpoint ``resume`` names (``"last"``: the newest of the run in ``output_dir``).

    Raises:
        CheckpointError: The named file cannot be resumed from, or the run has no usable
            checkpoint.
    """
    if str(resume) == "last":
        return newest_checkpoint(output_dir / "checkpoints")
    return read_training_checkpoint(resume)


def newest_checkpoint(folder: Path) -> TrainingCheckpoint:
    """The usable checkpoint of ``folder`` with the highest step (see the module's notes).

    Raises:
        CheckpointError: ``folder`` has no checkpoint, or none that can be read.
    """
    lasts = sorted(folder.glob("last*.ckpt")) if folder.is_dir() else []
    steps = _step_files(folder)
    if not lasts and not steps:
        raise CheckpointError(f"no checkpoint to resume from in {folder} (has the run saved one yet?)")
    problems: list[str] = []
    best = _newest([c for c in (_try_read(p, problems) for p in lasts) if c is not None])
    for step, path in steps:  # highest step first
        if best is not None and step <= best.step:
            break
        found = _try_read(path, problems)
        if found is not None:
            best = found
            break
    if best is None:
        raise CheckpointError(f"no readable checkpoint to resume from in {folder}: {'; '.join(problems)}")
    for problem in problems:
        log.warning("%s; resuming from %s (step %d) instead", problem, best.path, best.step)
    return best


def _step_files(folder: Path) -> list[tuple[int, Path]]:
    """The step checkpoints of ``folder`` with the step their name gives, highest first."""
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := STEP_FILE.fullmatch(p.name))]
    return sorted(found, key=lambda item: (item[0], item[1].stat().st_mtime), reverse=True)


def _try_read(path: Path, problems: list[str]) -> TrainingCheckpoint | None:
    """The checkpoint at ``path``, or None with the reason added to ``problems``."""
    try:
        return read_training_checkpoint(path)
    except CheckpointError as error:
        problems.append(str(error))
        return None


def _newest(checkpoints: list[TrainingCheckpoint]) -> TrainingCheckpoint | None:
    """The highest step; the latest modification among equal steps."""
    if not checkpoints:
        return None
    return max(checkpoints, key=lambda c: (c.step, c.path.stat().st_mtime))


def check_resumable(checkpoint: TrainingCheckpoint, config: ExperimentConfig) -> list[tuple[str, Any, Any]]:
    """Refuse to resume ``checkpoint`` with another model than its own.

    The model, the trainable parameters and the discriminator must match (the weights and
    the optimiser state depend on them); other settings may change.

    Returns:
        The settings that changed: dotted key, the checkpoint's value, the new value.

    Raises:
        CheckpointError: Naming every setting that must match but differs, with both values.
    """
    changes = config_differences(checkpoint.config, config)
    fixed = [c for c in changes if c[0].startswith(_FIXED)]
    if fixed:
        shown = "; ".join(f"{key} is {old!r} in the checkpoint but {new!r} now" for key, old, new in fixed)
        raise CheckpointError(
            f"{checkpoint.path}: cannot resume with a different model: {shown} (resume with the "
            "checkpoint's settings, or start a new run from its weights with trainer.init_from)"
        )
    return changes
