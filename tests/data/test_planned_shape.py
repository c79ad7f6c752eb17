"""`planned_shape`: the data shape the checks before the first write and the benchmarks' random inits use is the
one `prepare` then gives."""

import dataclasses

from retlab.config.loader import load_config
from retlab.data import prepare
from retlab.data.stages import planned_shape
from retlab.models.specs import DataShape
from training.configs import text_config


def test_mqar_is_known_from_its_config(tmp_path):
    cfg = load_config(None, {"output_dir": str(tmp_path), "data.mqar.train_examples": 64, "data.seq_len": 40})
    planned = planned_shape(cfg)
    assert not any(tmp_path.iterdir())  # planning prepares nothing
    assert planned == DataShape.of(prepare(cfg))


def test_text_is_the_prepared_datas_once_prepared(shared_data, tmp_path):
    cfg = text_config(shared_data, tmp_path)
    assert planned_shape(cfg) == DataShape(300, 32)  # tokenizer.vocab_size; special ids not known yet
    info = prepare(cfg)
    assert planned_shape(cfg) == DataShape.of(info)
    longer = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, seq_len=64))
    assert planned_shape(longer) == dataclasses.replace(DataShape.of(info), max_position_embeddings=64)


def test_a_local_tokenizer_gives_its_own_vocabulary(shared_data, tmp_path):
    cfg = text_config(shared_data, tmp_path, **{"tokenizer.path": str(shared_data / "tokenizers" / "gpt2")})
    assert planned_shape(cfg) == DataShape(50257, 32, 50256, 50256, 50256)
