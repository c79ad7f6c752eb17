import pytest
import torch


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Model tests use tiny models: intra-op threads only add synchronisation on a busy, shared CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
