import pytest

from retlab.errors import ConfigError
from retlab.sweep.grid import expand_grid, point_id, validate_grid

ORIGINAL = {
    "train.lr": [0.001, 0.0005, 0.0001],
    "model.hidden_size": [768, 1024, 1280],
    "model.intermediate_size": [1024, 2048],
    "model.num_heads": [4, 8],
    "data.seq_len": [256, 512],
}


def test_original_grid_expands_to_72_distinct_points_with_every_value():
    points = expand_grid(validate_grid(ORIGINAL))
    assert len(points) == 72
    assert len({point_id(p) for p in points}) == 72  # distinct folder names
    for key, values in ORIGINAL.items():
        assert sorted({p[key] for p in points}) == sorted(values)
        for v in values:  # balanced: every value appears 72 / len(values) times
            assert sum(p[key] == v for p in points) == 72 // len(values)
    assert points[0] == {k: v[0] for k, v in ORIGINAL.items()}
    assert points[1]["data.seq_len"] == 512  # last key varies fastest


def test_values_are_coerced_to_the_field_type():
    grid = validate_grid(
        {"train.lr": ["1e-3", 1], "train.betas": [[0.9, 0.95]], "model.intermediate_size": [None, 64]}
    )
    assert grid["train.lr"] == [0.001, 1.0] and all(isinstance(v, float) for v in grid["train.lr"])
    assert grid["model.intermediate_size"] == [None, 64]
    assert expand_grid({}) == [{}] and point_id({}) == "default"


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ({"train.lrr": [1e-3]}, "did you mean `train.lr`"),
        ({"embed_dim": [768]}, "model.hidden_size"),
        ({"model.hidden_size": [768, 1.5]}, "1.5"),
        ({"model.arch": ["retnet"]}, "sweep.compare"),
        ({"seed": [1, 2]}, "sweep.seeds"),
        ({"train.lr": []}, "non-empty list"),
        ({"train.lr": 0.001}, "non-empty list"),
        ({"model.positional": ["rope", "alibi"]}, "alibi"),
        ({"train.lr": [1e-3, 0.001]}, "repeated"),
    ],
)
def test_bad_grids_name_the_field_and_the_fix(grid, message):
    with pytest.raises(ConfigError) as e:
        validate_grid(grid)
    assert f"sweep.grid.{next(iter(grid))}" in str(e.value) and message in str(e.value)


def test_colliding_short_names_use_full_keys():
    pid = point_id({"tokenizer.vocab_size": 512, "data.mqar.vocab_size": 64, "train.lr": 0.001})
    assert pid == "tokenizer.vocab_size=512_data.mqar.vocab_size=64_lr=0.001"


def test_shipped_sweep_configs(tmp_path):
    from operator import attrgetter
    from pathlib import Path

    from retlab.config.loader import load_config, validate
    from retlab.sweep.trial import make_trials

    repo = Path(__file__).resolve().parents[2]
    cfg = load_config(repo / "configs/sweep-original-study.yaml")
    assert validate_grid(cfg.sweep.grid) == ORIGINAL
    specs = make_trials(cfg, expand_grid(ORIGINAL), tmp_path)
    assert len(specs) == 72 * 2 * 3 and len({s.trial_id for s in specs}) == len(specs)
    for s in specs:  # every combination is a valid run config carrying its values
        validate(s.cfg)
        assert all(attrgetter(k)(s.cfg) == v for k, v in s.point.items())
        assert (s.cfg.model.arch, s.cfg.seed, s.cfg.compare) == (s.arch, s.seed, [s.arch])
    small = load_config(repo / "configs/sweep-small.yaml")
    assert len(expand_grid(validate_grid(small.sweep.grid))) == 8 and small.sweep.compare == [
        "retnet",
        "transformer",
    ]
