"""Two-process DDP training on the CPU (gloo), run by test_training.py as a script.

Usage: python ddp_script.py OUTPUT_DIR. Lightning's ``ddp`` strategy starts rank 1 by
running this script again. Each rank writes ``rank{r}.pt``: its parameters and buffers
after training, its head's weights before training and a fingerprint of the batches it saw.
"""

from __future__ import annotations

import sys
from pathlib import Path

import lightning as L
import torch

from hmrflow.config import apply_overrides
from hmrflow.training.config import ExperimentConfig
from hmrflow.training.train import train

TINY = [
    "model.encoder.width=32",
    "model.flow.context_features=32",
    "model.flow.hidden_features=32",
    "model.head_hidden=32",
    "data.batch_size=8",
    "data.val_size=8",
    "trainer.accelerator=cpu",
    "trainer.devices=2",
    "trainer.strategy=ddp",
    "trainer.max_steps=4",
    "trainer.val_every=4",
    "trainer.log_every=1",
]


class SaveRankState(L.Callback):
    """Writes every rank's weights and the sum of its evidence after training."""

    def __init__(self, output: Path):
        self.output = output
        self.seen = 0.0
        self.initial: torch.Tensor | None = None

    def on_train_start(self, trainer, module) -> None:
        self.initial = module.model.head.layers[0].weight.detach().clone()

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        self.seen += float(batch.evidence.sum())

    def on_train_end(self, trainer, module) -> None:
        state = {k: v.detach().clone() for k, v in module.model.state_dict().items()}
        record = {"state": state, "seen": self.seen, "initial_head": self.initial}
        torch.save(record, self.output / f"rank{trainer.global_rank}.pt")


def main(output: str) -> None:
    torch.set_num_threads(1)
    out = Path(output)
    config = apply_overrides(ExperimentConfig(), [*TINY, f"trainer.output_dir={out / 'run'}"])
    train(config, progress=False, callbacks=[SaveRankState(out)])


if __name__ == "__main__":
    main(sys.argv[1])
