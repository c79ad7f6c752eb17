"""Config loading: shipped files parse, precedence, one-line errors for every kind of bad input, docs in sync."""

import dataclasses
import re
from pathlib import Path

import pytest

from retlab.config import RetlabConfig
from retlab.config.loader import (
    ORIGINAL_STUDY_KEYS,
    all_keys,
    config_to_dict,
    field_docs,
    leaf_fields,
    load_config,
    save_config,
    template_yaml,
    validate,
    with_absolute_paths,
)
from retlab.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted((REPO / "configs").glob("*.yaml"))


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return p


def error_of(tmp_path: Path, yaml_text: str | None = None, overrides=None) -> ConfigError:
    path = write(tmp_path, yaml_text) if yaml_text is not None else None
    with pytest.raises(ConfigError) as e:
        load_config(path, overrides)
    msg = str(e.value)
    assert "\n" not in msg and "Traceback" not in msg
    return e.value


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_every_shipped_config_parses(path):
    cfg = load_config(path)
    assert isinstance(cfg, RetlabConfig) and dataclasses.is_dataclass(cfg.train)


def test_template_is_generated_from_the_dataclasses():
    text = (REPO / "configs" / "template.yaml").read_text()
    assert text == template_yaml(), "regenerate: python -m retlab.config.loader > configs/template.yaml"
    assert load_config(REPO / "configs" / "template.yaml") == RetlabConfig()


def test_every_field_is_documented():
    def walk(obj):
        docs = field_docs(type(obj))
        for f in dataclasses.fields(obj):
            assert docs.get(f.name), f"{type(obj).__name__}.{f.name} has no docstring"
            if dataclasses.is_dataclass(getattr(obj, f.name)):
                walk(getattr(obj, f.name))

    walk(RetlabConfig())


def test_original_study_table_matches_the_code_and_the_dataclasses():
    text = (REPO / "docs" / "config-from-original-study.md").read_text()
    rows = re.findall(r"^\| `([^`]+)` \| (`[^`]+`|—) \|", text, flags=re.M)
    table = {k: (None if v == "—" else v.strip("`")) for k, v in rows}
    assert table == ORIGINAL_STUDY_KEYS
    keys = all_keys()
    for original, field in table.items():
        assert field is None or field in keys, f"{original} -> {field} is not a retlab field"
    for needed in ("embed_dim", "value_embed_dim", "ffn_dim", "heads", "layers", "seq_len", "vocab_size",
                   "learning_rate", "batch_size", "betas", "weight_decay", "gradient_clip_val", "precision",
                   "epochs", "val_check_interval", "accumulate_grad_batches", "early_stopping", "save_top_k",
                   "every_n_train_steps", "every_n_hours", "rand_seed", "splits", "dataset_name",
                   "dataset_subset", "dataset_feature", "num_devices", "num_nodes", "strategy", "tasks",
                   "nshot", "gen_len", "input_starting_strings", "test_sequence_lengths"):  # fmt: skip
        assert needed in table


def test_precedence_cli_beats_yaml_beats_defaults(tmp_path):
    path = write(tmp_path, "seed: 7\ntrain:\n  lr: 1.0e-3\n  batch_size: 4\n")
    cfg = load_config(path, ["--train.lr", "3e-4"])
    assert (cfg.train.lr, cfg.train.batch_size, cfg.seed) == (3e-4, 4, 7)
    assert cfg.train.warmup_steps == RetlabConfig().train.warmup_steps
    assert load_config(path, {"train.lr": 0.5}).train.lr == 0.5
    assert load_config(path, ["--train.lr=2e-4"]).train.lr == 2e-4


def test_list_override_without_brackets(tmp_path):
    cfg = load_config(None, ["--data.splits", "0.8,0.1,0.1", "--data.path", "a.txt"])
    assert cfg.data.splits == [0.8, 0.1, 0.1] and cfg.data.path == ["a.txt"]


def test_yaml_scientific_notation_without_dot(tmp_path):
    assert load_config(write(tmp_path, "train:\n  lr: 3e-4\n")).train.lr == 3e-4


def test_save_load_round_trip(tmp_path):
    cfg = load_config(
        None, {"train.lr": 1e-3, "data.mqar.num_kv_pairs": [2, 16], "sweep.grid": {"train.lr": [1, 2]}}
    )
    save_config(cfg, tmp_path / "run" / "config.yaml")
    again = load_config(tmp_path / "run" / "config.yaml")
    assert again == with_absolute_paths(cfg) and config_to_dict(again)["sweep"]["grid"] == {
        "train.lr": [1, 2]
    }


def test_malformed_yaml_names_line(tmp_path):
    e = error_of(tmp_path, "train:\n  lr: [1\n")
    assert "malformed YAML" in str(e) and "line" in str(e)


def test_not_a_mapping(tmp_path):
    assert "mapping" in str(error_of(tmp_path, "- a\n- b\n"))


def test_unknown_key_suggests_closest(tmp_path):
    e = error_of(tmp_path, "train:\n  lrr: 1\n")
    assert e.field == "train.lrr" and "train.lr" in e.fix
    e = error_of(tmp_path, "model:\n  hiden_size: 1\n")
    assert "model.hidden_size" in e.fix


def test_unknown_original_study_key_names_retlab_field(tmp_path):
    e = error_of(tmp_path, "embed_dim: 128\n")
    assert e.field == "embed_dim" and "model.hidden_size" in e.fix


def test_unknown_cli_option(tmp_path):
    e = error_of(tmp_path, None, ["--train.lrr", "1"])
    assert e.field == "--train.lrr" and "--train.lr" in e.fix


def test_wrong_type(tmp_path):
    e = error_of(tmp_path, "train:\n  batch_size: many\n")
    assert e.field == "train.batch_size" and "int" in str(e) and "many" in str(e)
    e = error_of(tmp_path, None, ["--model.arch", "lstm"])
    assert e.field == "model.arch" and "retnet" in str(e)
    e = error_of(tmp_path, "train: 5\n")
    assert e.field == "train" and "section" in str(e)


def test_out_of_range_reports_every_problem_at_once(tmp_path):
    e = error_of(
        tmp_path,
        "model:\n  hidden_size: 100\n  num_heads: 3\ntrain:\n  lr: -1\ndata:\n  splits: [0.5, 0.2, 0.2]\n",
    )
    msg = str(e)
    assert "3 problems" in msg
    for field in ("model.hidden_size", "train.lr", "data.splits"):
        assert field in msg


def test_single_range_error_names_field_and_fix(tmp_path):
    e = error_of(tmp_path, None, {"train.batch_size": 0})
    assert e.field == "train.batch_size" and e.fix


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path / "nope.yaml")
    assert "not found" in str(e.value) and e.value.field == "--config"


def test_required_source_fields(tmp_path):
    assert error_of(tmp_path, None, {"data.source": "hub"}).field == "data.name"
    assert error_of(tmp_path, None, {"data.source": "local"}).field == "data.path"


def test_mqar_geometry_checked():
    cfg = RetlabConfig()
    cfg.data.seq_len = 8
    cfg.data.mqar.num_kv_pairs = [8]
    with pytest.raises(ConfigError, match="data.seq_len"):
        validate(cfg)


def test_mqar_geometry_ignored_for_text_sources():
    # seq_len 16 cannot hold 8 MQAR pairs, but MQAR settings do not apply to a text corpus
    cfg = load_config(overrides={"data.source": "local", "data.path": ["x.txt"], "data.seq_len": 16})
    assert cfg.data.seq_len == 16
    with pytest.raises(ConfigError, match="data.seq_len"):
        load_config(overrides={"data.seq_len": 16, "data.mqar.num_kv_pairs": [8]})


def test_sweep_grid_keys_must_be_fields():
    cfg = RetlabConfig()
    cfg.sweep.grid = {"train.lrr": [1, 2]}
    with pytest.raises(ConfigError, match="train.lr"):
        validate(cfg)


def test_leaf_fields_cover_nested_sections():
    fields = leaf_fields()
    assert "data.mqar.num_kv_pairs" in fields and "train.lr" in fields and "data" not in fields


def test_null_where_not_allowed_is_an_error(tmp_path):
    e = error_of(tmp_path, "seed: null\ntrain:\n  lr:\n")
    assert "seed" in str(e) and "train.lr" in str(e) and "null" in str(e)
    assert load_config(write(tmp_path, "train:\n  max_epochs: null\n")).train.max_epochs is None


def test_single_value_for_a_list_field_is_a_one_item_list(tmp_path):
    assert load_config(write(tmp_path, "compare: transformer\n")).compare == ["transformer"]


def test_dict_override_of_a_section_merges(tmp_path):
    cfg = load_config(write(tmp_path, "train:\n  batch_size: 4\n"), {"train": {"lr": 0.5}})
    assert (cfg.train.lr, cfg.train.batch_size) == (0.5, 4)
    assert load_config(None, ["--data.path=a.txt,b.txt"]).data.path == ["a.txt", "b.txt"]


def test_first_line_of_an_error_is_one_line_or_the_type_name():
    from retlab.errors import first_line

    assert first_line(ValueError("  bad value\nTraceback details\n")) == "bad value"
    assert first_line(KeyError()) == "KeyError"


def test_architecture_names_come_from_the_specs_and_are_documented():
    from retlab.models.specs import ARCHS

    assert all(f"`{arch}`" in field_docs(type(RetlabConfig().model))["arch"] for arch in ARCHS)
    e = load_error(["--model.arch", "retnt", "--compare", "retnet,lstm"])
    assert "did you mean retnet?" in str(e) and "compare: unknown architecture 'lstm'" in str(e)
    assert load_error(["--bench.archs", "transfomer"]).field == "bench.archs"


def load_error(overrides) -> ConfigError:
    with pytest.raises(ConfigError) as e:
        load_config(None, overrides)
    return e.value
