"""Stage 2, `retlab data tokenizer`: a byte-level BPE trained on the train split only, or an existing tokenizer
(a Hugging Face tokenizer directory or Hub name, or GPT-2-style BPE files such as ../shared/data/tokenizers/gpt2).

Output: runs/<name>/tokenizer/, a PreTrainedTokenizerFast directory (AutoTokenizer.from_pretrained loads it).
Trained tokenizers reserve <pad>=0, <bos>=1, <eos>=2, <unk>=3. Byte-level BPE covers every byte, so
decode(encode(text)) == text and <unk> is never produced from text."""

import dataclasses
import itertools
from collections.abc import Iterable
from pathlib import Path

from ..console import where
from ..errors import ConfigError, first_line
from ..layout import RunLayout
from ..utils.stage import file_digest, fingerprint, is_up_to_date, mark_done, stamp_info
from .download import download, iter_documents, split_meta, splits_dir

SPECIAL_TOKENS = ("<pad>", "<bos>", "<eos>", "<unk>")
END_OF_TEXT = "<|endoftext|>"  # GPT-2's document separator
_BYTES_PER_TOKEN_SAMPLE = 8_000_000  # measure bytes/token on at most this much validation text


def bpe_from_documents(
    docs: Iterable[str], vocab_size: int, min_frequency: int = 2, length: int | None = None
):
    """Train a byte-level BPE (`tokenizers.Tokenizer`) on `docs` with retlab's special tokens first."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(docs, trainer=trainer, length=length)
    return tok


def to_hf(tok, specials: tuple[str | None, ...] = SPECIAL_TOKENS):
    """Wrap a `tokenizers.Tokenizer` as a PreTrainedTokenizerFast that round-trips text exactly;
    `specials` are its (pad, bos, eos, unk) tokens."""
    from transformers import PreTrainedTokenizerFast

    pad, bos, eos, unk = specials
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token=pad,
        bos_token=bos,
        eos_token=eos,
        unk_token=unk,
        clean_up_tokenization_spaces=False,  # the default would turn "a ." into "a." on decode
        model_max_length=1 << 30,
    )


def bpe_files(path: Path) -> tuple[Path, Path] | None:
    """The vocabulary and merges files of a GPT-2-style BPE directory that is not a Hugging Face tokenizer
    directory (OpenAI's encoder.json + vocab.bpe, or vocab.json + merges.txt), else None."""
    if (path / "tokenizer.json").is_file() or (path / "tokenizer_config.json").is_file():
        return None
    vocab = next((path / f for f in ("vocab.json", "encoder.json") if (path / f).is_file()), None)
    merges = next((path / f for f in ("merges.txt", "vocab.bpe") if (path / f).is_file()), None)
    return (vocab, merges) if vocab and merges else None


def tokenizer_from_bpe_files(vocab_file: Path, merges_file: Path):
    """A byte-level BPE (GPT-2's scheme) from its vocabulary and merges files, as a PreTrainedTokenizerFast whose
    <|endoftext|> is eos (and bos/unk, as in GPT-2). Built with `tokenizers`, because transformers 5's
    GPT2TokenizerFast(vocab_file=..., merges_file=...) silently builds a one-token vocabulary."""
    import json

    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    vocab = json.loads(vocab_file.read_text(encoding="utf-8"))
    lines = merges_file.read_text(encoding="utf-8").splitlines()
    merges = [tuple(line.split(" ")) for line in lines if line and not line.startswith("#version")]
    if END_OF_TEXT not in vocab:
        raise ConfigError(
            "tokenizer.path", f"{vocab_file} has no {END_OF_TEXT} token to end documents", "use GPT-2's files"
        )
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([END_OF_TEXT])  # never split or merged with the text around it
    return to_hf(tok, (None, END_OF_TEXT, END_OF_TEXT, END_OF_TEXT))


def load_tokenizer(path: str | Path):
    """A Hugging Face tokenizer from a directory (e.g. runs/<name>/tokenizer), GPT-2-style BPE files or a Hub
    name."""
    from transformers import AutoTokenizer

    files = bpe_files(Path(path).expanduser())
    if files:
        return tokenizer_from_bpe_files(*files)
    try:
        tok = AutoTokenizer.from_pretrained(str(path))
    except (OSError, ValueError) as e:
        first = first_line(e)
        raise ConfigError(
            "tokenizer.path",
            f"cannot load a tokenizer from '{path}': {first}",
            "give a tokenizer directory or a cached Hub name",
        ) from None
    if not tok.is_fast:  # packing reads the Rust tokenizer (tokenizer.json) in worker processes
        raise ConfigError(
            "tokenizer.path", f"'{path}' has no fast (Rust) tokenizer", "give a tokenizer with tokenizer.json"
        )
    return tok


def special_ids(tok) -> dict[str, int]:
    """pad/bos/eos ids; a tokenizer without pad or bos (e.g. GPT-2) uses eos for them."""
    eos = tok.eos_token_id
    if eos is None:
        raise ConfigError(
            "tokenizer.path",
            "the tokenizer has no eos token, needed between packed documents",
            "use a tokenizer with an eos token",
        )
    pad = tok.pad_token_id if tok.pad_token_id is not None else eos
    bos = tok.bos_token_id if tok.bos_token_id is not None else eos
    return {"pad_token_id": pad, "bos_token_id": bos, "eos_token_id": eos}


def bytes_per_token(tok, docs: Iterable[str], batch: int = 1000) -> float:
    """UTF-8 bytes per token over `docs` (a compression measure comparable across tokenizers)."""
    backend = tok.backend_tokenizer
    n_bytes = n_tokens = 0
    it = iter(docs)
    while n_bytes < _BYTES_PER_TOKEN_SAMPLE and (chunk := list(itertools.islice(it, batch))):
        n_bytes += sum(len(d.encode("utf-8")) for d in chunk)
        n_tokens += sum(len(e.ids) for e in backend.encode_batch(chunk, add_special_tokens=False))
    return n_bytes / max(n_tokens, 1)


def tokenizer_dir(cfg) -> Path:
    return RunLayout.of(cfg).tokenizer


def tokenizer_hash(path: str | Path) -> str:
    return file_digest(Path(path) / "tokenizer.json")[:16]


def _existing_fingerprint(path: str) -> str:
    p = Path(path).expanduser()
    if p.is_dir():
        digests = sorted((f.name, file_digest(f)) for f in p.iterdir() if f.is_file())
        return fingerprint("tokenizer-path", str(p.resolve()), digests)
    if p.exists() or path.startswith((".", "/", "~")):
        raise ConfigError(
            "tokenizer.path", f"'{path}' is not a tokenizer directory", "give a directory with tokenizer.json"
        )
    return fingerprint("tokenizer-hub", path)


def train_tokenizer(cfg, force: bool = False) -> Path | None:
    """Stage 2: train (or copy in) the run's tokenizer into runs/<name>/tokenizer/ (cached)."""
    if cfg.data.source == "mqar":
        print("tokenizer: data.source is mqar, whose ids need no tokenizer; nothing to do")
        return None
    out, t = tokenizer_dir(cfg), cfg.tokenizer
    settings = dataclasses.asdict(t)
    if t.path:
        fp = fingerprint("tokenizer", 1, _existing_fingerprint(t.path))
    elif cfg.data.streaming:
        from .streaming import Stream

        download(cfg)  # validation and test documents, for the report
        docs, n_train, sample_fp = Stream(cfg).tokenizer_sample(t.train_documents)
        fp = fingerprint("tokenizer", 2, sample_fp, settings)
    else:
        download(cfg)
        fp = fingerprint("tokenizer", 1, stamp_info(splits_dir(cfg))["fingerprint"], settings)
    if not force and is_up_to_date(out, fp):
        print(f"tokenizer: up to date ({where(out)}); --force retrains")
        return out
    from ..utils.files import atomic_dir

    if t.path:
        hf = load_tokenizer(t.path)
    else:
        if not cfg.data.streaming:
            n_train = split_meta(splits_dir(cfg))["splits"]["train"]["documents"]
            n_train = min(n_train, t.train_documents or n_train)
            docs = itertools.islice(iter_documents(splits_dir(cfg), "train"), n_train)
        hf = to_hf(bpe_from_documents(docs, t.vocab_size, t.min_frequency, n_train))
    with atomic_dir(out) as tmp:
        hf.save_pretrained(tmp)
        mark_done(tmp, fp, vocab_size=len(hf), **special_ids(hf))
    _report(hf, cfg, out)
    return out


def _report(hf, cfg, out: Path) -> None:
    # written by stage 1, which an existing tokenizer (tokenizer.path) does not need to have run
    written = (splits_dir(cfg) / "validation.jsonl").is_file()
    val = iter_documents(splits_dir(cfg), "validation") if written else iter(())
    first = next(val, None)
    bpt = ""
    if first is not None:
        bpt = f", {bytes_per_token(hf, itertools.chain([first], val)):.2f} bytes/token on validation"
    print(f"tokenizer: byte-level BPE, vocab size {len(hf):,}{bpt} -> {where(out)}")
