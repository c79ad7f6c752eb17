"""Optional fast path: the chunkwise form through flash-linear-attention's Triton kernels (CUDA only).

`chunk_simple_gla` with a per-head constant log decay (`g_gamma`) is exactly retention; fla's `chunk_retention` is
the same call with TorchScale's decay hard-wired, so the generic one serves both decay kinds. The plain-PyTorch
`retention.chunkwise_retention` stays the reference (see tests/models/test_retnet.py).
This file is copied next to exported checkpoints (trust_remote_code); fla is imported lazily, only on CUDA."""

import importlib.util

_AVAILABLE: bool | None = None


def fla_usable(x) -> bool:
    """Whether the fla kernels can run on tensor `x`: it lives on CUDA and fla is installed."""
    global _AVAILABLE
    if not x.is_cuda:
        return False
    if _AVAILABLE is None:
        _AVAILABLE = importlib.util.find_spec("fla") is not None
    return _AVAILABLE


def fla_chunkwise_retention(q, k, v, decay, state=None, output_final_state: bool = False):
    """Same contract as `retention.chunkwise_retention`: q, k (B, H, T, d_k), v (B, H, T, d_v), state
    (B, H, d_k, d_v). k must already carry the d_k^-1/2 scale (hence scale=1)."""
    from fla.ops.simple_gla import chunk_simple_gla

    out, final = chunk_simple_gla(
        q.transpose(1, 2),  # fla wants (B, T, H, d)
        k.transpose(1, 2),
        v.transpose(1, 2),
        g_gamma=decay.log_gamma,
        scale=1.0,
        initial_state=None if state is None else state.float(),
        output_final_state=output_final_state,
    )
    return out.transpose(1, 2), final
