"""From the `scaling` section to sizes: the aspect-ratio rule, budgets, the shipped configs' sizes, and one-line
errors (exit 2) for input that cannot make a study."""

from pathlib import Path

import pytest

from retlab.cli import main
from retlab.config.loader import load_config
from retlab.errors import ConfigError
from retlab.models.factory import build_config
from retlab.models.sizing import count_parameters
from retlab.models.specs import DataShape
from retlab.scaling.plan import check_budgets, plan_sizes, plan_targets, repeated_data, scaling_base

REPO = Path(__file__).resolve().parents[2]
SMALL_SHAPE = DataShape(512, 64)  # scaling-small: a 512-token BPE, 64-token blocks
GPU_SHAPE = DataShape(32768, 1024)


def config(**scaling):
    base = {"data.seq_len": 64, "train.batch_size": 16, "train.warmup_steps": 0, "tokenizer.vocab_size": 512}
    return load_config(overrides=base | {f"scaling.{k}": v for k, v in scaling.items()})


def test_parameter_counts_become_shapes_by_the_aspect_ratio_rule():
    cfg = scaling_base(load_config(REPO / "configs/scaling-small.yaml"))
    sizes = plan_sizes(cfg, SMALL_SHAPE)
    assert [s.label for s in sizes] == ["1", "2", "3", "4", "5"]
    counts = [s.parameters for s in sizes]
    assert counts == sorted(counts) and len(set(counts)) == 5
    for asked, size in zip(sorted(cfg.scaling.parameters), sizes, strict=True):
        m = size.model
        assert m["hidden_size"] % 16 == 0 and m["num_heads"] == m["hidden_size"] // 16
        assert 1 / 1.6 < size.parameters / asked < 1.6  # widths come in steps of one head
        assert 16 <= m["hidden_size"] / m["num_hidden_layers"] <= 64  # near the aspect ratio of 32
        model = load_config(base=cfg, overrides={f"model.{k}": v for k, v in m.items()}).model
        reference = build_config(model, "retnet", SMALL_SHAPE)
        assert (
            count_parameters(reference, embeddings=False) == size.parameters
        )  # N as scaling.count counts it
        assert size.tokens == 250_000
    assert sizes[0].parameters < 1.5e5 and sizes[-1].parameters > 2.5e6  # ~0.1M to ~3M


def test_gpu_config_spans_20m_to_400m_parameters_at_20_tokens_each():
    cfg = scaling_base(load_config(REPO / "configs/scaling-gpu.yaml"))
    sizes = plan_sizes(cfg, GPU_SHAPE)
    assert 17e6 < sizes[0].parameters < 23e6 and 350e6 < sizes[-1].parameters < 450e6
    assert all(s.tokens == round(20 * s.parameters) for s in sizes)
    assert all(s.model["hidden_size"] % 64 == 0 for s in sizes)
    targets = plan_targets(cfg, GPU_SHAPE, sizes)
    for t in targets:  # ~6 N x 20 N FLOPs (less the input embedding, plus attention or retention)
        assert 0.9 < t["flops"] / (6 * t["parameters"] * 20 * t["parameters"]) < 1.3


def test_sizes_that_collapse_to_one_shape_are_an_error():
    cfg = scaling_base(config(parameters=[1.0e5, 1.05e5, 3.0e5], tokens=10_000, head_dim=16, aspect_ratio=32))
    with pytest.raises(ConfigError, match="give the same shape"):
        plan_sizes(cfg, SMALL_SHAPE)


def test_budget_below_one_batch_or_within_the_warmup_is_an_error():
    cfg = scaling_base(config(parameters=[1.0e5, 3.0e5, 1.0e6], tokens_per_parameter=0.005, head_dim=16))
    sizes = plan_sizes(cfg, SMALL_SHAPE)  # 0.005 x 1e5 = 500 tokens < one batch of 16 x 64
    with pytest.raises(ConfigError, match="less than one batch") as err:
        check_budgets(cfg, sizes, 16 * 64)
    assert err.value.field == "scaling.tokens_per_parameter"
    cfg = scaling_base(config(parameters=[1.0e5, 3.0e5, 1.0e6], tokens=4096, head_dim=16))
    cfg.train.warmup_steps = 4
    with pytest.raises(ConfigError, match="never reach its peak"):
        check_budgets(cfg, plan_sizes(cfg, SMALL_SHAPE), 16 * 64)  # 4 steps per size


def test_targets_below_the_smallest_size_are_an_error():
    shapes = [{"hidden_size": 32, "num_hidden_layers": 1}, {"hidden_size": 64, "num_hidden_layers": 2}]
    shapes.append({"hidden_size": 96, "num_hidden_layers": 3})
    cfg = scaling_base(config(shapes=shapes, tokens=10_000, head_dim=16, targets=[1000.0]))
    sizes = plan_sizes(cfg, SMALL_SHAPE)
    with pytest.raises(ConfigError, match="below the smallest trained size"):
        plan_targets(cfg, SMALL_SHAPE, sizes)
    with pytest.raises(ConfigError, match="below the smallest size"):  # known from the counts alone
        config(parameters=[1.0e5, 3.0e5, 1.0e6], tokens=10_000, targets=[5.0e4])


def test_repeated_data_is_warned_about():
    cfg = scaling_base(config(parameters=[1.0e5, 3.0e5, 1.0e6], tokens_per_parameter=2.0, head_dim=16))
    warnings = repeated_data(plan_sizes(cfg, SMALL_SHAPE), train_tokens=400_000)
    assert len(warnings) == 2 and "passes over the 400,000 training tokens" in warnings[0]


@pytest.mark.parametrize(
    "scaling, message",
    [
        ({"parameters": [1.0e5, 1.0e6], "tokens": 1000}, "scaling.parameters: gives 2 sizes"),
        ({"parameters": [1.0e5, 3.0e5, 1.0e6]}, "scaling.tokens: no token budget is set"),
        ({"parameters": [1.0e5, 3.0e5, 1.0e6], "tokens": 10, "tokens_per_parameter": 2.0}, "is set together"),
        ({"parameters": [1.0e5, 1.0e5, 1.0e6], "tokens": 10}, "repeats a value"),
        ({"shapes": [{"hidden_size": 64}], "tokens": 10}, "needs hidden_size and num_hidden_layers"),
        (
            {"parameters": [1.0e5, 3.0e5, 1.0e6], "tokens": 10, "bootstrap": 20},
            "scaling.bootstrap: must be >= 100",
        ),
        ({}, "scaling.parameters: gives 0 sizes"),  # `retlab scaling` without sizes
    ],
)
def test_bad_scaling_input_is_a_one_line_error_with_exit_2(tmp_path, capsys, scaling, message):
    args = ["scaling", "--output_dir", str(tmp_path)]
    for key, value in scaling.items():
        args += [f"--scaling.{key}", str(value).replace("'", '"')]
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("retlab: error:") and message in err and "\n" not in err
    assert not any(tmp_path.iterdir())  # nothing written


@pytest.mark.parametrize(
    "scaling, message",
    [
        (  # 30 is not divisible by 4 heads: the model section rejects the size
            {
                "shapes": '[{"hidden_size": 30, "num_hidden_layers": 1, "num_heads": 4}, '
                '{"hidden_size": 32, "num_hidden_layers": 1}, {"hidden_size": 64, "num_hidden_layers": 1}]'
            },
            "scaling.shapes {'hidden_size': 30, 'num_hidden_layers': 1, 'num_heads': 4}",
        ),
        ({"parameters": "[2000, 2100, 20000]", "head_dim": "8"}, "give the same shape"),
        (
            {
                "parameters": "[2000, 6000, 20000]",
                "head_dim": "8",
                "aspect_ratio": "16",
                "count": "non_embedding",
            }
            | {"tokens": "100"},
            "less than one batch",
        ),
    ],
)
def test_sizes_the_data_rules_out_are_one_line_errors_before_training(tmp_path, capsys, scaling, message):
    """Checks that need the data's vocabulary: after the data is prepared, before any trial (MQAR data here)."""
    args = [
        "scaling",
        "--output_dir",
        str(tmp_path),
        "--data.seq_len",
        "32",
        "--data.mqar.train_examples",
        "200",
    ]
    args += ["--train.batch_size", "8", "--train.warmup_steps", "0", "--scaling.tokens", "1024"]
    for key, value in scaling.items():
        args += [f"--scaling.{key}", value]
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("retlab: error:") and message in err and "\n" not in err
    assert (
        not (tmp_path / "quickstart" / "trials").exists()
        and not (tmp_path / "quickstart/config.yaml").exists()
    )


def test_the_aspect_ratio_rule_on_a_known_count():
    """With N = 12 w^2 L (a Transformer without embeddings) and width = 64 L: depth 3 (width 192, N = 1.33M) is
    the closest to 1M, and at depth 3 no other multiple of 64 comes closer."""
    from retlab.models.sizing import shape_for_parameters

    def count(width, depth):
        return 12 * width**2 * depth

    assert shape_for_parameters(1e6, count, aspect_ratio=64, multiple=64) == (192, 3)
    assert shape_for_parameters(1e9, count, aspect_ratio=64, multiple=64) == (1728, 27)  # N = 0.97e9
    assert shape_for_parameters(10, count, aspect_ratio=64, multiple=64) == (64, 1)  # the smallest there is


@pytest.mark.parametrize("tie", [False, True])
def test_non_embedding_counts_leave_out_the_vocabulary_matrices(tie):
    from retlab.config import ModelConfig

    model = ModelConfig(hidden_size=64, num_hidden_layers=2, num_heads=4, tie_word_embeddings=tie)
    for arch in ("retnet", "transformer"):
        config = build_config(model, arch, SMALL_SHAPE)
        vocabulary = 512 * 64 * (1 if tie else 2)
        assert count_parameters(config) - count_parameters(config, embeddings=False) == vocabulary
