"""`prepare(cfg)`: run the data stages a config needs (each cached) and return the DataInfo for training;
`planned_shape(cfg)`: the shape it will give, before anything is prepared."""

import dataclasses

from ..models.specs import DataShape
from .info import DataInfo


def prepare(cfg, force: bool = False) -> DataInfo:
    """MQAR: generate the task. Text: download -> tokenizer -> tokenize, each skipped when up to date.

    `force` reruns every stage even when up to date."""
    if cfg.data.source == "mqar":
        from .mqar import generate

        return generate(cfg, force=force)
    from .download import download
    from .tokenize import tokenize
    from .tokenizer import train_tokenizer

    if force:
        download(cfg, force=True)
        train_tokenizer(cfg, force=True)
    return tokenize(cfg, force=force)


def planned_shape(cfg) -> DataShape:
    """The data shape `prepare(cfg)` will give, without preparing anything: MQAR's (all in its config); for
    text, that of the data already prepared, else of the local tokenizer at `tokenizer.path`, else
    `tokenizer.vocab_size` with the special ids unknown (None). For checks before the first write and for the
    benchmarks' random inits."""
    from pathlib import Path

    seq_len = cfg.data.seq_len
    if cfg.data.source == "mqar":
        from .mqar import BOS_ID, EOS_ID, PAD_ID

        return DataShape(cfg.data.mqar.vocab_size, seq_len, PAD_ID, BOS_ID, EOS_ID)
    from .info import INFO_FILE
    from .tokenize import packed_dir

    if (packed_dir(cfg) / INFO_FILE).is_file():
        prepared = DataShape.of(DataInfo.load(packed_dir(cfg)))
        return dataclasses.replace(prepared, max_position_embeddings=seq_len)
    path = cfg.tokenizer.path
    if path and Path(path).expanduser().exists():  # a Hub name is not fetched for a plan
        from .tokenizer import load_tokenizer, special_ids

        tok = load_tokenizer(path)
        return DataShape(len(tok), seq_len, **special_ids(tok))
    return DataShape(cfg.tokenizer.vocab_size, seq_len)
