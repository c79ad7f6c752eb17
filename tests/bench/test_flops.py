"""FLOPs formulas on numbers worked out by hand, MFU, and the training-step memory estimate."""

from types import SimpleNamespace

import pytest

from retlab.bench.flops import (
    decode_flops_per_token,
    device_peak,
    mfu,
    mixing_flops_forward,
    peak_tflops,
    train_flops_per_token,
)
from retlab.bench.train import estimate_step_bytes


def transformer(**kw):
    fields = dict(
        model_type="retlab-transformer",
        vocab_size=1000,
        hidden_size=256,
        num_hidden_layers=4,
        num_heads=4,
        intermediate_size=688,
        tie_word_embeddings=False,
    )
    return SimpleNamespace(**{**fields, **kw})


def retnet(**kw):
    fields = dict(
        model_type="retlab-retnet",
        vocab_size=1000,
        hidden_size=256,
        num_hidden_layers=4,
        num_heads=4,
        intermediate_size=400,
        value_dim=512,
        chunk_size=64,
        retention_mode="chunkwise",
        tie_word_embeddings=False,
    )
    return SimpleNamespace(**{**fields, **kw})


def test_transformer_train_flops_by_hand():
    # per layer 2d + 4d^2 + 3 d ffn = 512 + 262144 + 528384 = 791040; x4 layers; 2 V d embeddings; final norm d
    params = 4 * 791_040 + 2 * 1000 * 256 + 256
    n_matmul = params - 1000 * 256  # the input embedding is a lookup
    attention = 6 * 4 * 1024 * 256  # causal: 6 L T d
    assert train_flops_per_token(transformer(), 1024) == 6 * n_matmul + attention == 26_813_952


def test_tied_embeddings_count_the_shared_matrix_once_as_a_product():
    untied, tied = transformer(), transformer(tie_word_embeddings=True)
    # tying removes one V x d matrix from the count; it is still used as the output product
    assert train_flops_per_token(untied, 512) == train_flops_per_token(tied, 512)


def test_retention_forms_by_hand():
    config = retnet()
    state = 4 * 256 * 512 / 4  # q.S and K^T.V per head: 4 d_k d_vh, summed over heads
    assert mixing_flops_forward(config, 8192, "chunkwise") == 64 * (256 + 512) + state == 180_224
    assert mixing_flops_forward(config, 8192, "parallel") == 8192 * (256 + 512)
    assert mixing_flops_forward(config, 8192, "recurrent") == state
    assert mixing_flops_forward(transformer(), 8192, "attention") == 2 * 8192 * 256


def test_chunkwise_training_cost_is_flat_in_length_and_attention_grows():
    config = retnet()
    assert train_flops_per_token(config, 8192) == train_flops_per_token(config, 512)
    parallel = [train_flops_per_token(config, t, "parallel") for t in (1024, 2048)]
    attn = [train_flops_per_token(transformer(), t) for t in (1024, 2048)]
    assert parallel[1] - parallel[0] == 3 * 4 * 1024 * (256 + 512)
    assert attn[1] - attn[0] == 6 * 4 * 1024 * 256


def test_decode_flops_grow_with_context_only_for_attention():
    assert decode_flops_per_token(retnet(), 8192) == decode_flops_per_token(retnet(), 256)
    grow = decode_flops_per_token(transformer(), 8192) - decode_flops_per_token(transformer(), 4096)
    assert grow == 4 * 4 * 4096 * 256  # q.K and p.V over every cached key: 4 d per key and layer


def test_mfu_and_peaks():
    assert mfu(1e9, 1e3, 1.0) == pytest.approx(1.0)
    assert mfu(1e9, 1e3, None) is None
    assert peak_tflops("NVIDIA H200", "bfloat16") == 989.4
    assert peak_tflops("NVIDIA H100 80GB HBM3", "bfloat16") == 989.4
    assert peak_tflops("cpu (2 threads)", "float32") is None


def test_float32_peak_follows_the_matmul_precision():
    import torch

    saved = torch.get_float32_matmul_precision()
    try:
        torch.set_float32_matmul_precision("highest")  # torch's default: no tensor cores for float32
        assert peak_tflops("NVIDIA H100 80GB HBM3", "float32") == 66.9
        assert peak_tflops("NVIDIA A100-SXM4-80GB", "float32") == 19.5
        torch.set_float32_matmul_precision("high")  # TF32 tensor cores
        assert peak_tflops("NVIDIA H100 80GB HBM3", "float32") == 494.7
        assert peak_tflops("NVIDIA H100 PCIe", "float32") == 378.0
    finally:
        torch.set_float32_matmul_precision(saved)


def test_cpu_peak_is_a_matmul_measured_on_the_benchmarks_threads():
    import torch

    peak = device_peak(torch.device("cpu"), torch.float32, gemm_size=128)
    spread = peak["gemm_tflops"]
    assert spread["n"] == 5 and spread["min"] <= spread["median"] <= spread["max"]
    assert peak["tflops"] == spread["median"] > 0
    assert "128x128 float32 matmul" in peak["source"] and "thread" in peak["source"]


def test_memory_estimate_is_quadratic_only_for_the_parallel_form():
    c = retnet(
        vocab_size=100, hidden_size=32, num_hidden_layers=2, num_heads=2, intermediate_size=64, value_dim=64
    )
    chunk = [estimate_step_bytes(c, 1, t, "chunkwise") for t in (1024, 2048, 4096)]
    par = [estimate_step_bytes(c, 1, t, "parallel") for t in (1024, 2048, 4096)]
    assert chunk[2] - chunk[1] == 2 * (chunk[1] - chunk[0])  # linear
    assert par[2] - par[1] > 3 * (par[1] - par[0])  # quadratic
    assert train_flops_per_token(c, 4096, "chunkwise") < train_flops_per_token(c, 4096, "parallel")
