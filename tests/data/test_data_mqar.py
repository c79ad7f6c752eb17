"""MQAR: deterministic generation, labels exactly at the answers (aligned), the accuracy metric, DataModule batches."""

import numpy as np
import pytest
import torch

from retlab.config.loader import load_config
from retlab.data import RetlabDataModule, prepare
from retlab.data.mqar import (
    IGNORE_INDEX,
    NUM_SPECIAL,
    generate_split,
    key_value_ranges,
    labels_from,
    mqar_accuracy,
)


def cfg_for(tmp_path, **over):
    o = {
        "output_dir": str(tmp_path),
        "data.seq_len": 64,
        "data.mqar.num_kv_pairs": [2, 4, 8],
        "train.batch_size": 6,
    }
    o |= {"data.mqar.train_examples": 60, "data.mqar.val_examples": 12, "data.mqar.test_examples": 12}
    return load_config(None, o | over)


def test_generation_is_deterministic_in_the_seed(tmp_path):
    a = generate_split(cfg_for(tmp_path), "train")
    b = generate_split(cfg_for(tmp_path), "train")
    c = generate_split(cfg_for(tmp_path, seed=1), "train")
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])
    assert not np.array_equal(a[0][:12], generate_split(cfg_for(tmp_path), "validation")[0])


@pytest.mark.parametrize("num_queries", [None, 3])
def test_labels_sit_exactly_where_the_next_token_is_the_answer(tmp_path, num_queries):
    cfg = cfg_for(tmp_path, **{"data.mqar.num_queries": num_queries})
    blocks, masks, kvs = generate_split(cfg, "train")
    keys_r, values_r = key_value_ranges(cfg.data.mqar.vocab_size)
    assert sorted(np.bincount(kvs)[[2, 4, 8]]) == [20, 20, 20]  # spread evenly over the pair counts
    for block, mask, kv in zip(blocks, masks, kvs, strict=True):
        block = block.astype(np.int64)
        inputs, labels = block[:-1], labels_from(block, mask)
        bound = dict(zip(block[0 : 2 * kv : 2], block[1 : 2 * kv : 2], strict=True))
        assert (
            len(bound) == kv
            and all(k in keys_r for k in bound)
            and all(v in values_r for v in bound.values())
        )
        answers = np.flatnonzero(labels != IGNORE_INDEX)
        assert len(answers) == (num_queries or kv) and answers.min() >= 2 * kv
        for t in answers:  # ALIGNED: labels[t] is the value bound to the key at input position t
            assert inputs[t] in bound and labels[t] == bound[inputs[t]] == block[t + 1]
        assert block.min() >= NUM_SPECIAL


def test_accuracy_counts_answer_positions_only():
    labels = torch.full((2, 5), IGNORE_INDEX)
    labels[0, 1], labels[1, 3], labels[1, 4] = 7, 8, 9
    logits = torch.zeros(2, 5, 10)
    logits[0, 1, 7] = logits[1, 3, 8] = logits[1, 4, 2] = 1.0
    logits[0, 0, 3] = 5.0  # a wrong guess at a non-answer position does not count
    assert mqar_accuracy(logits, labels) == (2, 3)


def test_datamodule_serves_mqar_and_perfect_predictions_score_one(tmp_path, capsys):
    cfg = cfg_for(tmp_path)
    info = prepare(cfg)
    assert info.task == "mqar" and info.tokenizer_dir is None and info.vocab_size == 256
    assert (info.pad_token_id, info.bos_token_id, info.eos_token_id) == (0, 1, 2)
    prepare(cfg)
    assert "up to date" in capsys.readouterr().out
    dm = RetlabDataModule(cfg, info)
    correct = total = 0
    for batch in dm.test_dataloader():
        assert set(batch) == {"input_ids", "labels", "num_kv_pairs"} and batch["input_ids"].shape[1] == 64
        # An oracle that predicts the next input token is right at every answer position.
        nxt = torch.cat([batch["input_ids"][:, 1:], batch["labels"][:, -1:].clamp(min=0)], dim=1)
        logits = torch.nn.functional.one_hot(nxt, info.vocab_size).float()
        c, t = mqar_accuracy(logits, batch["labels"])
        correct, total = correct + c, total + t
    assert total > 0 and correct == total


def test_tokenizer_names_every_id_and_round_trips():
    from retlab.data.mqar import tokenizer

    tok = tokenizer(33)  # 14 keys, 14 values and one id left over
    keys, values = key_value_ranges(33)
    assert len(tok) == 33
    assert tok.convert_ids_to_tokens([0, 1, 2, 3]) == ["<pad>", "<bos>", "<eos>", "<unk>"]
    words = "k7 v13 k0 x0"
    ids = [keys[7], values[13], keys[0], 32]
    assert tok(words, add_special_tokens=False)["input_ids"] == ids
    # Each word decodes with a space in front, so a continuation joins its prompt with one; specials vanish.
    assert tok.decode(ids) == " " + words
    assert tok.decode([2, values[1], 0], skip_special_tokens=True) == " v1"
    assert tok.eos_token_id is None and tok.bos_token_id is None and tok.pad_token_id == 0
