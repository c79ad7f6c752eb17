"""`prepare(cfg)`: run the data stages a config needs (each cached) and return the DataInfo for training."""

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
