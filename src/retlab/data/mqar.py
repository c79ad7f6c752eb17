"""Multi-query associative recall (MQAR; Zoology, Arora et al. 2023): can the model recall the value bound to a key?

One example, a block of seq_len + 1 tokens (the same format as packed text):

    k1 v1 k2 v2 ... kK vK | x x kq vq x x x kq' vq' x ...
    `-- K key-value pairs --' `-- random filler with num_queries (key, value) queries of earlier keys --'

Ids 0..3 are reserved (pad=0, bos=1, eos=2, 3 unused) and never appear in examples; keys come from the lower
half of the remaining ids and values from the upper half, so a key can never be mistaken for a value. Filler
is drawn from the whole non-special range. Inputs are block[:-1] and, in retlab's ALIGNED convention, labels[t]
is the value when input_ids[t] is a queried key (the next token is the answer) and -100 everywhere else.
"""

from pathlib import Path

import numpy as np

from ..config.data import MQAR_RESERVED_IDS
from ..console import where
from ..layout import RunLayout
from ..models.loss import IGNORE_INDEX
from ..utils.files import atomic_dir, atomic_write_json
from ..utils.stage import fingerprint, is_up_to_date, mark_done
from .info import SPLITS, DataInfo, token_dtype

PAD_ID, BOS_ID, EOS_ID = 0, 1, 2
NUM_SPECIAL = MQAR_RESERVED_IDS  # the config checks the task's geometry with it


def key_value_ranges(vocab_size: int) -> tuple[range, range]:
    half = (vocab_size - NUM_SPECIAL) // 2
    return range(NUM_SPECIAL, NUM_SPECIAL + half), range(NUM_SPECIAL + half, NUM_SPECIAL + 2 * half)


def make_example(
    rng: np.random.Generator, vocab_size: int, seq_len: int, num_kv: int, num_queries: int
) -> tuple[np.ndarray, np.ndarray]:
    """One block (seq_len + 1,) and its answer mask (seq_len,): mask[t] is True where block[t + 1] is the answer."""
    keys_r, values_r = key_value_ranges(vocab_size)
    block = rng.integers(NUM_SPECIAL, vocab_size, size=seq_len + 1)  # random filler
    # Offsets into the ranges: the same draws as choosing from the ranges themselves, without building them.
    keys = keys_r.start + rng.choice(len(keys_r), size=num_kv, replace=False)
    values = values_r.start + rng.choice(len(values_r), size=num_kv, replace=True)
    block[0 : 2 * num_kv : 2], block[1 : 2 * num_kv : 2] = keys, values
    # Query slots are (key, value) pairs at even offsets after the context so they never overlap.
    slots = (seq_len + 1 - 2 * num_kv) // 2
    starts = 2 * num_kv + 2 * rng.choice(slots, size=num_queries, replace=False)
    which = rng.choice(num_kv, size=num_queries, replace=num_queries > num_kv)
    block[starts], block[starts + 1] = keys[which], values[which]
    mask = np.zeros(seq_len, dtype=bool)
    mask[starts] = True
    return block, mask


def generate_split(cfg, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All examples of a split: blocks (N, T+1), answer masks (N, T), num_kv_pairs (N,). Deterministic in cfg.seed."""
    q, seq_len = cfg.data.mqar, cfg.data.seq_len
    n = {"train": q.train_examples, "validation": q.val_examples, "test": q.test_examples}[split]
    rng = np.random.default_rng([cfg.seed, SPLITS.index(split)])
    kvs = np.resize(np.asarray(q.num_kv_pairs), n)  # spread examples evenly over the pair counts
    blocks = np.empty((n, seq_len + 1), dtype=token_dtype(q.vocab_size))
    masks = np.empty((n, seq_len), dtype=bool)
    for i, kv in enumerate(kvs):
        blocks[i], masks[i] = make_example(rng, q.vocab_size, seq_len, int(kv), q.num_queries or int(kv))
    return blocks, masks, kvs.astype(np.int64)


def labels_from(block: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """ALIGNED labels of one block: the next token at answer positions, -100 elsewhere. (T,)"""
    return np.where(mask, block[1:].astype(np.int64), IGNORE_INDEX)


def mqar_fingerprint(cfg) -> str:
    import dataclasses

    return fingerprint("mqar", 1, dataclasses.asdict(cfg.data.mqar), cfg.data.seq_len, cfg.seed)


def generate(cfg, force: bool = False) -> DataInfo:
    """Write the three MQAR splits to runs/<name>/data/mqar/ (cached by fingerprint) and return their DataInfo."""
    out = RunLayout.of(cfg).data / "mqar"
    fp = mqar_fingerprint(cfg)
    if not force and is_up_to_date(out, fp):
        print(f"mqar: up to date ({where(out)}); --force regenerates")
        return DataInfo.load(out)
    with atomic_dir(out) as tmp:
        for split in SPLITS:
            blocks, masks, kvs = generate_split(cfg, split)
            blocks.tofile(tmp / f"{split}.bin")
            np.save(tmp / f"{split}.answer_mask.npy", masks)
            np.save(tmp / f"{split}.num_kv_pairs.npy", kvs)
            meta = {"blocks": len(blocks), "block_len": cfg.data.seq_len + 1, "dtype": blocks.dtype.name}
            atomic_write_json(tmp / f"{split}.json", meta | {"queries": int(masks.sum())})
        info = _info(cfg, tmp)
        info.save()
        mark_done(tmp, fp)
    m = cfg.data.mqar
    print(
        f"mqar: {m.train_examples}/{m.val_examples}/{m.test_examples} train/validation/test examples -> {where(out)}"
    )
    return _info(cfg, out)


def _info(cfg, data_dir: Path) -> DataInfo:
    return DataInfo(
        vocab_size=cfg.data.mqar.vocab_size,
        pad_token_id=PAD_ID,
        bos_token_id=BOS_ID,
        eos_token_id=EOS_ID,
        seq_len=cfg.data.seq_len,
        tokenizer_dir=None,
        data_dir=Path(data_dir),
        task="mqar",
    )


def tokenizer(vocab_size: int):
    """The task's ids as words, so that exports load with AutoTokenizer and `retlab generate` reads and writes
    text like "k3 v5 k0": keys k0, k1, ... and values v0, v1, ... by their index in their range, the id left over
    by an odd split x0, and the specials <pad> <bos> <eos> <unk> (ids 0-3). Words are separated by whitespace;
    decoding puts a space before every word, so a continuation reads right after its prompt. Neither <bos> nor
    <eos> is declared: MQAR sequences have no document separators, so prompts must not get one."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    keys, values = key_value_ranges(vocab_size)
    names = ["<pad>", "<bos>", "<eos>", "<unk>"] + [f"k{i}" for i in range(len(keys))]
    names += [f"v{i}" for i in range(len(values))]
    names += [f"x{i}" for i in range(vocab_size - len(names))]
    tok = Tokenizer(models.WordLevel({name: i for i, name in enumerate(names)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.decoder = decoders.Sequence([decoders.Replace(Regex("^"), " "), decoders.Fuse()])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<pad>",
        unk_token="<unk>",
        additional_special_tokens=["<bos>", "<eos>"],  # skipped when decoding, like <pad>
        clean_up_tokenization_spaces=False,
        model_max_length=1 << 30,
    )


def mqar_accuracy(logits, labels) -> tuple[int, int]:
    """(correct, total) over answer positions (labels != -100) of ALIGNED labels; logits (B, T, V), labels (B, T)."""
    mask = labels != IGNORE_INDEX
    correct = (logits.argmax(-1) == labels) & mask
    return int(correct.sum()), int(mask.sum())
