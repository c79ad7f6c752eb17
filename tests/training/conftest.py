"""Training tests run with one torch thread."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    """Two shared CPU cores: one thread per test process keeps timings stable and results bitwise reproducible."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
