"""Fixtures every test folder may use."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture
def elsewhere() -> Iterator[None]:
    """Tensors made without a device go to "meta" during the test (the GPU run's CPU).

    A tensor made without its ``device=`` then fails the first operation that mixes it with
    real data: see tests/test_devices.py. Note that ``torch.as_tensor(t)`` of a tensor
    without ``device=`` moves it there too: give the device.
    """
    torch.set_default_device("meta")
    try:
        yield
    finally:
        torch.set_default_device(None)
