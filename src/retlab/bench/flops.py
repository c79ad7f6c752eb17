"""FLOPs per token, per architecture and sequence-mixing form, and model FLOPs utilisation (MFU).

Conventions (one multiply-add = 2 FLOPs; a training step = forward + backward = 3 x forward):

* Dense layers: every parameter that takes part in a matrix product costs 2 FLOPs per token forward, so
  training costs 6 * N_matmul per token. N_matmul is the parameter count without the input embedding (a table
  lookup, not a product) unless it is tied to the output projection. Norm gains are counted too (negligible).
* Sequence mixing, per layer and token forward, with d = hidden_size, d_v = value_dim, H heads,
  d_k = d / H and d_vh = d_v / H per head, T = sequence length, C = chunk size. Products that a causal mask
  zeroes are not counted: that is useful work, so an implementation that computes and discards them shows it as
  a lower MFU instead of a higher FLOP count.
    - causal softmax attention: q.K^T and P.V against on average T/2 keys: 2 * (T/2) * (d + d) = 2 * T * d.
      Training: 6 * L * T * d (PaLM's 12 * L * T * d counts the masked half too).
    - RetNet parallel form, the same triangle with keys of width d and values of width d_v:
      (T/2) * 2 * (d + d_v) = T * (d + d_v); training 3 * L * T * (d + d_v).
    - RetNet chunkwise form: inside a chunk the parallel form on C tokens, C * (d + d_v); across chunks
      each head reads its state (q.S: 2 * d_k * d_vh) and adds the chunk to it (K^T.V: 2 * d_k * d_vh per
      token), 4 * d_k * d_vh per head: 4 * d * d_v / H. Training 3 * L * (C * (d + d_v) + 4 * d * d_v / H),
      independent of T: linear-time training.
    - RetNet recurrent form (decoding): the state update and read, 4 * d * d_v / H per layer and token.
    - `other` (an `hf:` state-space or linear-attention model, spec mixer `other`): not modelled, counted as 0,
      so its FLOPs are its matrix products alone (a lower bound).
  A shared Transformer formula would charge RetNet 6 * L * T * d it never spends, giving impossible MFU."""

from ..models.specs import spec_for

PEAK_TFLOPS = {  # dense (no sparsity) peak per GPU, by (name fragment, math): the first fragment found wins
    ("H200", "bfloat16"): 989.4,
    ("H100 SXM", "bfloat16"): 989.4,
    ("H100 NVL", "bfloat16"): 835.0,
    ("H100 PCIe", "bfloat16"): 756.0,
    ("H100", "bfloat16"): 989.4,  # "NVIDIA H100 80GB HBM3" is the SXM part
    ("A100", "bfloat16"): 312.0,
    ("H200", "tf32"): 494.7,  # float32 matmuls on tensor cores (torch.set_float32_matmul_precision("high"))
    ("H100 NVL", "tf32"): 417.5,
    ("H100 PCIe", "tf32"): 378.0,
    ("H100", "tf32"): 494.7,
    ("A100", "tf32"): 156.0,
    ("H200", "float32"): 66.9,  # float32 matmuls in full precision (torch's default, "highest")
    ("H100 NVL", "float32"): 60.0,
    ("H100 PCIe", "float32"): 51.2,
    ("H100", "float32"): 66.9,
    ("A100", "float32"): 19.5,
}


def matmul_parameters(config) -> int:
    """Parameters that take part in a matrix product per token (see the module docstring)."""
    from ..models.sizing import count_parameters

    total = count_parameters(config)
    if getattr(config, "tie_word_embeddings", False):
        return total
    return total - config.vocab_size * config.hidden_size


def mixing_flops_forward(config, seq_len: int, form: str) -> float:
    """Forward FLOPs per token of one layer's sequence mixing (attention or retention) in `form`."""
    d = config.hidden_size
    if form == "attention":
        return 2.0 * seq_len * d
    if form == "other":
        return 0.0
    d_v = getattr(config, "value_dim", None) or 2 * d
    state = 4.0 * d * d_v / config.num_heads
    if form == "parallel":
        return float(seq_len) * (d + d_v)
    if form == "chunkwise":
        chunk = min(getattr(config, "chunk_size", 64), seq_len)
        return chunk * (d + d_v) + state
    if form == "recurrent":
        return state
    raise ValueError(f"unknown sequence-mixing form {form!r}")


def mixing_form(config) -> str:
    """The form a full-sequence forward of `config` uses: `attention` or its retention mode."""
    return spec_for(config).form(config)


def train_flops_per_token(config, seq_len: int, form: str | None = None) -> float:
    """Training (forward + backward) FLOPs per token at sequence length `seq_len`."""
    form = form or mixing_form(config)
    mixing = config.num_hidden_layers * mixing_flops_forward(config, seq_len, form)
    return 6.0 * matmul_parameters(config) + 3.0 * mixing


def decode_flops_per_token(config, context: int) -> float:
    """Forward FLOPs of generating one token after `context` tokens (KV cache or recurrent state)."""
    mixer = spec_for(config).mixer
    form = "recurrent" if mixer == "retention" else mixer
    mixing = mixing_flops_forward(config, context, form)
    if form == "attention":
        mixing *= 2  # a new token attends to all `context` keys, not half of them on average
    return 2.0 * matmul_parameters(config) + config.num_hidden_layers * mixing


def peak_tflops(device_name: str, dtype: str) -> float | None:
    """A GPU's dense peak in TFLOP/s for `dtype` from its spec sheet, or None when unknown (CPUs, unlisted GPUs).
    float32 counts as TF32 when torch may use tensor cores for it (matmul precision other than "highest")."""
    import torch

    math = dtype
    if dtype == "float32" and torch.get_float32_matmul_precision() != "highest":
        math = "tf32"
    for (fragment, kind), value in PEAK_TFLOPS.items():
        if fragment.lower() in device_name.lower() and kind == math:
            return value
    return None


def device_peak(device, dtype, gemm_size: int) -> dict:
    """The peak FLOP/s that MFU is measured against, with where it comes from: a GPU's spec sheet, or on a CPU a
    `gemm_size`-square matmul in `dtype` on the threads the benchmark uses, timed at its start (median of 5 after
    one warm-up; its spread is kept). {"tflops", "source", "gemm_tflops" (measured spread or None)}."""
    import torch

    from .models import device_name
    from .timer import summarize, time_rounds

    name, dtype_name = device_name(device), str(dtype).removeprefix("torch.")
    if device.type == "cuda":
        value = peak_tflops(name, dtype_name)
        source = f"spec sheet of {name}, {dtype_name}" if value else f"unknown for {name}, {dtype_name}"
        return {"tflops": value, "source": source, "gemm_tflops": None}
    a, b = (torch.randn(gemm_size, gemm_size, generator=torch.Generator().manual_seed(i)) for i in (0, 1))
    a, b = a.to(device=device, dtype=dtype), b.to(device=device, dtype=dtype)
    seconds = time_rounds({"gemm": lambda: a @ b}, rounds=5, warmup=1)["gemm"]
    spread = summarize([2 * gemm_size**3 / s / 1e12 for s in seconds])
    source = f"measured: {gemm_size}x{gemm_size} {dtype_name} matmul on {name}, median of {spread['n']}"
    return {"tflops": spread["median"], "source": source, "gemm_tflops": spread}


def mfu(flops_per_token: float, tokens_per_s: float, peak: float | None) -> float | None:
    """Achieved FLOP/s as a fraction of the device's peak in TFLOP/s; None when the peak is unknown."""
    if not peak:
        return None
    return flops_per_token * tokens_per_s / (peak * 1e12)
