"""Stage 2: byte-level BPE on the train split only, exact round trip on real text, AutoTokenizer, existing tokenizers."""

import json

import pytest

from retlab.config.loader import load_config
from retlab.data.tokenizer import SPECIAL_TOKENS, load_tokenizer, train_tokenizer
from retlab.utils.stage import stamp_info

UNSEEN = "zqxvjwk"  # appears only in the validation file below


@pytest.fixture(scope="module")
def trained(tmp_path_factory, shared_data):
    tmp = tmp_path_factory.mktemp("tok")
    val = tmp / "val.txt"
    val.write_text("\n".join([UNSEEN * 20] * 300))
    cfg = load_config(
        None,
        {
            "output_dir": str(tmp),
            "data.source": "local",
            "data.path": [str(shared_data / "corpora/tinyshakespeare/input.txt")],
            "data.val_path": [str(val)],
            "data.test_path": [str(shared_data / "corpora/ptb/ptb.test.txt")],
            "tokenizer.vocab_size": 600,
        },
    )
    return cfg, train_tokenizer(cfg)


def test_saved_as_pretrained_tokenizer_fast_with_specials_first(trained):
    from transformers import AutoTokenizer

    _, out = trained
    tok = AutoTokenizer.from_pretrained(out)
    assert [tok.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS] == [0, 1, 2, 3]
    assert (tok.pad_token_id, tok.bos_token_id, tok.eos_token_id, tok.unk_token_id) == (0, 1, 2, 3)
    assert len(tok) == 600
    assert stamp_info(out)["vocab_size"] == 600 and stamp_info(out)["eos_token_id"] == 2


def test_round_trip_on_real_text(trained, shared_data):
    tok = load_tokenizer(trained[1])
    c = shared_data / "corpora"
    texts = [
        (c / "wikitext-2-raw/wiki.valid.raw").read_text()[:200_000],
        (c / "gutenberg/pg1342_pride_and_prejudice.txt").read_text()[:100_000],
        (c / "tinystories/tinystories_validation_head.txt").read_text()[:100_000],
        (c / "ptb/ptb.valid.txt").read_text()[:50_000].replace("<unk>", "unk"),
        "naïve café — “quotes” 日本語 emoji 🙂 tabs\tand  double  spaces .",
    ]
    for text in texts:
        ids = tok.encode(text, add_special_tokens=False)
        assert tok.decode(ids) == text
        assert 3 not in ids  # byte-level BPE never needs <unk>


def test_trained_on_train_split_only(trained, capsys):
    tok = load_tokenizer(trained[1])
    # A word repeated thousands of times in validation would be one token had validation been used.
    assert len(tok.encode(UNSEEN, add_special_tokens=False)) > 2


def test_reports_vocab_and_bytes_per_token(trained, capsys):
    cfg, _ = trained
    train_tokenizer(cfg, force=True)
    out = capsys.readouterr().out
    assert "vocab size 600" in out and "bytes/token on validation" in out
    train_tokenizer(cfg)
    assert "up to date" in capsys.readouterr().out


def test_existing_tokenizer_path(tmp_path, shared_data):
    from transformers import GPT2TokenizerFast

    gpt2 = shared_data / "tokenizers/gpt2"
    src = tmp_path / "gpt2"
    vocab = json.loads((gpt2 / "encoder.json").read_text())
    merges = [tuple(line.split()) for line in (gpt2 / "vocab.bpe").read_text().splitlines()[1:] if line]
    GPT2TokenizerFast(vocab=vocab, merges=merges).save_pretrained(src)
    cfg = load_config(
        None,
        {
            "output_dir": str(tmp_path),
            "data.source": "local",
            "data.path": ["x.txt"],
            "tokenizer.path": str(src),
        },
    )
    out = train_tokenizer(cfg)
    info = stamp_info(out)
    assert (
        info["vocab_size"] == 50257
        and info["eos_token_id"] == info["pad_token_id"] == info["bos_token_id"] == 50256
    )
    assert json.loads((out / "tokenizer.json").read_text())["model"]["type"] == "BPE"
