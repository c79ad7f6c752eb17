"""The splits of a streamed dataset (data.streaming): documents read on the fly, within their budgets.

The non-empty documents of a split pass a seeded shuffle buffer. Validation and test are the first
`val_documents`/`test_documents` documents of the dataset's own splits when it has them; otherwise they are carved
from the head of the shuffled train stream, in the order of SPLITS: positions [0, V) are validation, [V, V + T)
test, and train starts after them (up to `max_documents`; `max_tokens` is applied while packing). Every position
of a stream belongs to one split only, so no document of validation or test is trained on, and a seed always
gives the same splits. Each call re-opens the stream, so resuming means skipping documents: reading, not
tokenizing, them again."""

from collections.abc import Iterator
from itertools import islice

import numpy as np

from ..utils.stage import fingerprint
from .info import SPLITS
from .sources import DocSource, corpus_fingerprint, non_empty, open_corpus

TOKENIZER_DOCUMENTS = 100_000
"""The BPE's sample of a streamed train split when tokenizer.train_documents is null."""


def shuffled(docs: Iterator[str], size: int, rng: np.random.Generator) -> Iterator[str]:
    """`docs` through a buffer of `size` documents: once it is full, each new document takes the place of a
    random one, which is yielded; the rest leave in random order at the end. size 1 keeps the order."""
    buf: list[str] = []
    picks: list[int] = []
    for doc in docs:
        if len(buf) < size:
            buf.append(doc)
            continue
        if not picks:
            picks = rng.integers(0, size, 4096).tolist()[::-1]
        i = picks.pop()
        yield buf[i]
        buf[i] = doc
    for i in rng.permutation(len(buf)).tolist():
        yield buf[i]


class Stream:
    """The document streams of a run's splits. The dataset is opened when documents are first read (a Hub
    dataset needs the network then), not for fingerprints, so stages that are up to date never touch it."""

    def __init__(self, cfg):
        self.cfg, self.data, self.seed = cfg, cfg.data, cfg.seed
        self.corpus = corpus_fingerprint(cfg)
        """Fingerprint of the corpus (settings, and the files for local data)."""
        self._sources: dict[str, DocSource] | None = None

    def open(self) -> dict[str, DocSource]:
        """The dataset's document sources per split, opened once."""
        if self._sources is None:
            self._sources = open_corpus(self.cfg, streaming=True)
        return self._sources

    def carved(self) -> list[str]:
        """The splits the dataset lacks, carved from its train stream."""
        return [s for s in SPLITS[1:] if s not in self.open()]

    def window(self, split: str) -> tuple[str, int, int | None]:
        """`split` as (source split, first position, end position or None) of that source's shuffled stream."""
        sizes = {"validation": self.data.val_documents, "test": self.data.test_documents}
        if split != "train" and split in self.open():
            return split, 0, sizes[split]
        start = 0
        for s in self.carved():
            if s == split:
                return "train", start, start + sizes[s]
            start += sizes[s]
        budget = self.data.max_documents
        return "train", start, start + budget if budget else None

    def documents(self, split: str, skip: int = 0) -> Iterator[str]:
        """The documents of `split` in order, after the first `skip` of them (read as they are asked for)."""
        source, start, stop = self.window(split)
        rng = np.random.default_rng([self.seed, SPLITS.index(source)])
        docs = shuffled(non_empty(self.open()[source]()), self.data.shuffle_buffer, rng)
        yield from islice(docs, start + skip, stop)

    def held_out_fingerprint(self) -> str:
        """Identifies the validation and test documents (and where train starts)."""
        d = self.data
        return fingerprint(
            "held-out", 1, self.corpus, self.seed, d.shuffle_buffer, d.val_documents, d.test_documents
        )

    def fingerprint(self) -> str:
        """Identifies the documents of every split (the token budget is the packer's, not part of this)."""
        return fingerprint("stream", 1, self.held_out_fingerprint(), self.data.max_documents)

    def tokenizer_sample(self, n: int | None) -> tuple[Iterator[str], int, str]:
        """The first `n` (default TOKENIZER_DOCUMENTS) train documents, how many at most, and their fingerprint.
        Nothing is read until the documents are."""
        n = n or TOKENIZER_DOCUMENTS
        if self.data.max_documents:
            n = min(n, self.data.max_documents)
        return islice(self.documents("train"), n), n, fingerprint("sample", 1, self.held_out_fingerprint(), n)
