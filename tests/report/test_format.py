"""One format per kind of number (report/format.py), and the kind of each metric by its name."""

import pytest

from retlab.report import format as f
from retlab.report import palette


@pytest.mark.parametrize(
    ("value", "kind", "shown"),
    [
        (137536, "count", "137,536"),
        (1228800.0, "count", "1,228,800"),
        (0.0018051, "loss", "0.0018"),
        (2.718281, "loss", "2.7183"),
        (14.9, "ppl", "14.90"),
        (22812.3, "ppl", "22,812.30"),
        (0.973, "percent", "97.3%"),
        (1 / 14, "percent", "7.14%"),
        (1.0, "percent", "100%"),
        (61.23, "seconds", "61.2 s"),
        (1234.5, "seconds", "1,234 s"),
        (0.000412, "seconds", "0.412 ms"),
        (0.412, "ms", "0.412 ms"),
        (16.03, "ms", "16.0 ms"),
        (5321.4, "rate", "5,321 tokens/s"),
        (42.13, "rate", "42.1 tokens/s"),
        (512, "bytes", "512 B"),
        (32768, "bytes", "32.0 KiB"),
        (2.037 * 2**20, "bytes", "2.04 MiB"),
        (0.03125, "mib", "32.0 KiB"),
        (14.9, "mib", "14.9 MiB"),
        (3.26e10, "flops", "32.6 GFLOP/s"),
        (1.234, "ratio", "1.23x"),
        (0.003, "setting", "0.003"),
        ([2, 4], "setting", "2, 4"),
        (True, "setting", "true"),
        (
            {"gpt2": {"n_inner": 96, "activation_function": "gelu"}},
            "setting",
            "{gpt2: {activation_function: gelu, n_inner: 96}}",
        ),
        (None, "loss", "–"),
        (float("nan"), "percent", "–"),
    ],
)
def test_each_kind_has_one_format(value, kind, shown):
    assert f.show(value, kind) == shown


def test_spreads_show_median_and_iqr_with_the_unit_once():
    assert f.show({"median": 1.86, "q1": 1.674, "q3": 5.99}, "ms") == "1.86 [1.67–5.99] ms"
    assert f.show({"median": 0.00502, "q1": 0.00155, "q3": 0.00556}, "percent") == "0.502 [0.155–0.556]%"
    assert f.show({"median": 0.87, "q1": 0.43, "q3": 3.13}, "ratio") == "0.87 [0.43–3.13]x"
    # quartiles in different units are each written in full
    assert f.show({"median": 0.9, "q1": 0.5, "q3": 1.5}, "mib") == "922 KiB [512 KiB–1.50 MiB]"


def test_scores_show_their_stderr_to_the_values_decimals():
    assert f.show({"value": 0.973, "stderr": 0.00712}, "percent") == "97.3% ± 0.7%"
    assert f.show({"value": 0.0714, "stderr": 0.0052}, "percent") == "7.14% ± 0.52%"
    assert f.show({"value": 3.4, "stderr": 0.05}, "loss") == "3.4000 ± 0.0500"
    assert f.show({"value": 3.6, "stderr": None}, "loss") == "3.6000"


def test_ticks_drop_trailing_zeros():
    assert [f.tick(v, k) for v, k in ((4096, "bytes"), (10.0, "ms"), (1.0, "ratio"), (0.5, "percent"))] == [
        "4 KiB",
        "10 ms",
        "1x",
        "50%",
    ]


def test_the_kind_of_a_metric_comes_from_its_name():
    kinds = {
        "params": "count",
        "best_val_loss": "loss",
        "test_ppl": "ppl",
        "test_mqar_accuracy": "percent",
        "acc_norm": "percent",
        "bits_per_byte": "loss",
        "word_perplexity": "ppl",
        "train_tokens_per_s": "rate",
        "wall_time_s": "seconds",
        "time_per_token_ms": "ms",
        "peak_rss_mib": "mib",
        "state_bytes": "bytes",
    }
    assert {k: f.kind_of(k) for k in kinds} == kinds
    assert f.name_of("best_val_loss") == "best validation loss (nats/token)"


def test_each_architecture_keeps_its_colour_and_its_variants_keep_its_hue():
    from matplotlib.colors import rgb_to_hsv, to_rgb

    assert palette.color("retnet") != palette.color("transformer")
    base = rgb_to_hsv(to_rgb(palette.color("transformer")))[0]
    for i in range(4):
        assert rgb_to_hsv(to_rgb(palette.shade("transformer", i)))[0] == pytest.approx(base, abs=0.01)
    assert palette.arch_of("transformer-static", ["retnet", "transformer"]) == "transformer"
    assert (
        palette.arch_of("torchscale-retnet-parallel", ["retnet", "torchscale-retnet"]) == "torchscale-retnet"
    )
    palette.register(["hf:mamba", "hf:gpt2"])
    spare = {palette.color("hf:mamba"), palette.color("hf:gpt2")}
    assert (
        len(spare) == 2 and not spare & set(palette.ARCH_COLORS.values()) and palette.REFERENCE not in spare
    )
