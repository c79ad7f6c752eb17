"""Retention in its three forms, as plain functions over head-split tensors.

With a per-head decay gamma, queries q_n, keys k_m and values v_m, every form computes

    o_n = sum_{m <= n} gamma^(n - m) (q_n . k_m) v_m  (+ q_n gamma^(n + 1) S_0 with an initial state S_0)

and the state after the last token, S = sum_m gamma^(T - 1 - m) k_m^T v_m (+ gamma^T S_0), which continues the
sequence. No data-dependent rescaling (TorchScale divides by running |qk| sums, which makes its forms disagree by
~1e-2): the per-head RMS group norm that follows is invariant to any per-position scale anyway.

Shapes: q, k (B, H, T, d_k); v (B, H, T, d_v); state (B, H, d_k, d_v). Decay terms (masks, gamma powers) and
rotation angles are computed in float32 whatever the model dtype, then cast.
This file is copied next to exported checkpoints (trust_remote_code), so it imports only torch."""

import math

import torch

# ---------------------------------------------------------------------------------------------------- decay


def log_gammas(num_heads: int, kind: str, device=None) -> torch.Tensor:
    """log gamma_h, (H,) float32. `torchscale`: gamma = 1 - 2^(-5-h); `linspace`: 1 - exp(linspace(log 1/32,
    log 1/512, H))."""
    if kind == "torchscale":
        one_minus = 2.0 ** (-5.0 - torch.arange(num_heads, dtype=torch.float32, device=device))
    elif kind == "linspace":
        exponents = torch.linspace(
            math.log(1 / 32), math.log(1 / 512), num_heads, dtype=torch.float32, device=device
        )
        one_minus = exponents.exp()
    else:
        raise ValueError(f"decay must be 'torchscale' or 'linspace', got {kind!r}")
    return torch.log1p(-one_minus)


class Decay:
    """The decay terms of one forward: built once from log gamma (H,) and shared by every layer.

    Each term is computed once in float32 (autocast off, so bf16/fp16 runs get exact powers), then cast to the
    dtype it is asked for and memoised."""

    def __init__(self, log_gamma: torch.Tensor):
        self.log_gamma = log_gamma.float()  # (H,)
        self._memo: dict[tuple, torch.Tensor] = {}

    def _term(self, key: tuple, dtype: torch.dtype, build) -> torch.Tensor:
        full_key = (*key, dtype)
        if full_key not in self._memo:
            with torch.autocast(self.log_gamma.device.type, enabled=False):
                self._memo[full_key] = build().to(dtype)
        return self._memo[full_key]

    def _powers(self, exponents: torch.Tensor) -> torch.Tensor:
        """gamma_h ** exponents, (H, *exponents.shape); exponents must be >= 0 (no inverse powers: no overflow)."""
        return torch.exp(self.log_gamma.view(-1, *([1] * exponents.dim())) * exponents)

    def _arange(self, n: int) -> torch.Tensor:
        return torch.arange(n, dtype=torch.float32, device=self.log_gamma.device)

    def mask(self, length: int, dtype: torch.dtype) -> torch.Tensor:
        """D[h, n, m] = gamma_h^(n - m) for m <= n, else 0: (H, T, T)."""

        def build():
            idx = self._arange(length)
            distance = idx[:, None] - idx[None, :]  # (T, T)
            causal = distance >= 0
            return self._powers(distance.clamp(min=0)) * causal

        return self._term(("mask", length), dtype, build)

    def query_decay(self, length: int, dtype: torch.dtype) -> torch.Tensor:
        """gamma^(n + 1): how much of the state entering a block query n still sees, (H, T, 1)."""
        return self._term(("query", length), dtype, lambda: self._powers(self._arange(length) + 1)[..., None])

    def key_decay(self, length: int, dtype: torch.dtype) -> torch.Tensor:
        """gamma^(T - 1 - m): how much of key m is left in the state after a block of T tokens, (H, T, 1)."""
        return self._term(
            ("key", length), dtype, lambda: self._powers(length - 1 - self._arange(length))[..., None]
        )

    def block_decay(self, length: int, dtype: torch.dtype) -> torch.Tensor:
        """gamma^T: the decay of the state across a block of T tokens, (H, 1, 1)."""
        return self._term(
            ("block", length), dtype, lambda: self._powers(torch.tensor(float(length)))[..., None, None]
        )


# ---------------------------------------------------------------------------------------------------- rotation


def rotation_angles(key_head_dim: int, base: float, device=None) -> torch.Tensor:
    """Per-dimension angles, (d_k,) float32: angle_i = 1 / base ** linspace(0, 1, d_k / 2), each repeated for the
    interleaved pair (x0, x1), (x2, x3), ... it rotates (TorchScale's layout, so its weights copy over as they are)."""
    half = 1.0 / base ** torch.linspace(0, 1, key_head_dim // 2, dtype=torch.float32, device=device)
    return half.repeat_interleave(2)


def rotation_cos_sin(angles: torch.Tensor, offset: int, length: int, dtype: torch.dtype):
    """cos and sin of positions offset .. offset + length - 1, each (T, d_k), computed in float32, then cast."""
    with torch.autocast(angles.device.type, enabled=False):
        positions = torch.arange(offset, offset + length, dtype=torch.float32, device=angles.device)
        theta = positions[:, None] * angles[None, :]  # (T, d_k)
        return theta.cos().to(dtype), theta.sin().to(dtype)


def rotate_every_two(x: torch.Tensor) -> torch.Tensor:
    """(x0, x1, x2, x3, ...) -> (-x1, x0, -x3, x2, ...)."""
    pairs = x.unflatten(-1, (-1, 2))  # (..., d_k / 2, 2)
    return torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate each interleaved pair of x (B, H, T, d_k) by its position's angle."""
    return x * cos + rotate_every_two(x) * sin


# ---------------------------------------------------------------------------------------------------- forms


def parallel_retention(q, k, v, decay: Decay, state=None, output_final_state: bool = False):
    """All positions at once through the (T, T) decay mask: O(T^2), the training form of the paper."""
    T = q.shape[2]
    scores = (q @ k.transpose(-1, -2)) * decay.mask(T, q.dtype)  # (B, H, T, T)
    out = scores @ v  # (B, H, T, d_v)
    if state is not None:
        out = out + (q * decay.query_decay(T, q.dtype)) @ state.to(q.dtype)
    final = None
    if output_final_state:
        final = block_state(k, v, decay, state)
    return out, final


def block_state(k, v, decay: Decay, state=None):
    """The state after a block of T tokens: sum_m gamma^(T-1-m) k_m^T v_m + gamma^T state, (B, H, d_k, d_v)."""
    T = k.shape[2]
    new = (k * decay.key_decay(T, k.dtype)).transpose(-1, -2) @ v  # (B, H, d_k, d_v)
    if state is None:
        return new
    return new + decay.block_decay(T, k.dtype) * state.to(k.dtype)


def chunkwise_retention(q, k, v, decay: Decay, chunk_size: int, state=None, output_final_state: bool = False):
    """Parallel inside chunks of `chunk_size` tokens, recurrent across them: O(T * chunk_size).

    A length that `chunk_size` does not divide ends with one shorter chunk, run with its own decay terms
    (padding it would decay the final state by the missing tokens)."""
    T = q.shape[2]
    full = (T // chunk_size) * chunk_size
    pieces = []
    if full:
        out, state = _equal_chunks(q[:, :, :full], k[:, :, :full], v[:, :, :full], decay, chunk_size, state)
        pieces.append(out)
    if full < T:
        tail = T - full
        out, state = _equal_chunks(q[:, :, full:], k[:, :, full:], v[:, :, full:], decay, tail, state)
        pieces.append(out)
    out = pieces[0] if len(pieces) == 1 else torch.cat(pieces, dim=2)
    return out, (state if output_final_state else None)


def _equal_chunks(q, k, v, decay: Decay, size: int, state):
    """Chunkwise retention over T = N * size tokens; returns the output and the state after the last chunk.

    Everything but the state hand-over is one batched matmul over all chunks; the hand-over (elementwise,
    (B, H, d_k, d_v) per chunk) is the only loop."""
    B, H, T, d_k = q.shape
    N, dtype = T // size, q.dtype
    q = q.reshape(B, H, N, size, d_k)
    k = k.reshape(B, H, N, size, d_k)
    v = v.reshape(B, H, N, size, -1)  # (B, H, N, C, d_v)
    mask = decay.mask(size, dtype)[:, None]  # (H, 1, C, C)
    inner = ((q @ k.transpose(-1, -2)) * mask) @ v  # (B, H, N, C, d_v)
    chunk_kv = (k * decay.key_decay(size, dtype)[:, None]).transpose(-1, -2) @ v  # (B, H, N, d_k, d_v)

    across = decay.block_decay(size, dtype)  # (H, 1, 1)
    current = torch.zeros_like(chunk_kv[:, :, 0]) if state is None else state.to(dtype)  # (B, H, d_k, d_v)
    entering = []  # the state entering each chunk
    for kv in chunk_kv.unbind(2):  # unbind, not indexing: its backward is one stack, not N zero-filled copies
        entering.append(current)
        current = across * current + kv
    entering = torch.stack(entering, dim=2)  # (B, H, N, d_k, d_v)

    cross = (q * decay.query_decay(size, dtype)[:, None]) @ entering  # (B, H, N, C, d_v)
    return (inner + cross).reshape(B, H, T, -1), current


def recurrent_retention(q, k, v, decay: Decay, state=None, output_final_state: bool = False):
    """One token at a time: S_n = gamma S_(n-1) + k_n^T v_n, o_n = q_n S_n. O(1) per token: the decoding form."""
    B, H, T, d_k = q.shape
    gamma = decay.block_decay(1, q.dtype)  # (H, 1, 1)
    current = q.new_zeros(B, H, d_k, v.shape[-1]) if state is None else state.to(q.dtype)
    outs = []
    for t in range(T):
        current = gamma * current + k[:, :, t, :, None] * v[:, :, t, None, :]  # (B, H, d_k, d_v)
        outs.append(q[:, :, t, None, :] @ current)  # (B, H, 1, d_v)
    return torch.cat(outs, dim=2), (current if output_final_state else None)


def group_norm(x: torch.Tensor, eps: float) -> torch.Tensor:
    """Per-head RMS norm without affine over the value dim of x (B, H, T, d_v), in float32."""
    x32 = x.float()
    return (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype)
