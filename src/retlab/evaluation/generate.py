"""`retlab generate`: continue prompts with a trained model, streaming the text to the terminal.

Decoding goes through the model's cache (use_cache=True): RetNet carries its recurrent state, O(1) work per new
token; the Transformer its KV cache, pre-allocated (`generate.cache: static`) or grown step by step (`dynamic`). Several prompts run as one left-padded batch. Sampling draws from torch's
RNG seeded with cfg.seed, so a seed reproduces the text. Prints time to first token and tokens/s at the end."""

import sys
import time

import torch
from transformers.generation.streamers import BaseStreamer

from ..errors import ConfigError
from .checkpoints import load_model, load_tokenizer_for, resolve_device, resolve_models


class TerminalStreamer(BaseStreamer):
    """Records when the first new token arrives; with one sequence, also prints the text as it grows.

    `generate` calls put() with the prompt first, then with each step's new tokens (B,)."""

    def __init__(self, tokenizer, echo: bool, out=sys.stdout):
        self.tokenizer, self.echo, self.out = tokenizer, echo, out
        self.prompt_seen = False
        self.first_token_at: float | None = None
        self.ids: list[int] = []
        self.printed = 0

    def put(self, value: torch.Tensor) -> None:
        if not self.prompt_seen:
            self.prompt_seen = True
            return
        if self.first_token_at is None:
            self.first_token_at = time.perf_counter()
        if self.echo:
            self.ids += value.reshape(-1).tolist()
            self._show(final=False)

    def end(self) -> None:
        if self.echo:
            self._show(final=True)
            self.out.write("\n")
            self.out.flush()

    def _show(self, final: bool) -> None:
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        if final or not text.endswith("\ufffd"):  # until the end, wait for the rest of a multi-byte character
            self.out.write(text[self.printed :])
            self.out.flush()
            self.printed = len(text)


def generation_kwargs(g, tokenizer, model) -> dict:
    """Arguments of `model.generate` for the `generate` section (sampling knobs only when sampling; the KV cache
    kind only for models that decode from a KV cache)."""
    kwargs = dict(
        max_new_tokens=g.max_new_tokens,
        do_sample=g.do_sample,
        use_cache=True,
        pad_token_id=tokenizer.pad_token_id,
    )
    if model._supports_default_dynamic_cache():  # False for RetNet: its cache is the recurrent state
        # No auto-compilation of a static-cache decode on GPU: retlab's forward reads the cache length as a
        # Python int, which would recompile every step.
        kwargs |= dict(cache_implementation=g.cache, disable_compile=True)
    if g.do_sample:
        kwargs |= dict(temperature=g.temperature, top_k=g.top_k or 0, top_p=g.top_p or 1.0)
    return kwargs


def load_generator(cfg):
    """(model, tokenizer, path) for generate.model (default: the run's first architecture, best checkpoint)."""
    g = cfg.generate
    entries = [g.model] if g.model else []
    models = resolve_models(entries, cfg, "generate.model")
    if not g.model:
        models = dict(list(models.items())[:1])
    path = next(iter(models.values()))
    tokenizer = load_tokenizer_for(path, cfg)
    if tokenizer is None:
        raise ConfigError(
            "generate.model",
            f"{path} has no tokenizer and the run has none",
            "generate with an export that includes its tokenizer",
        )
    tokenizer.padding_side = "left"  # new tokens must follow every prompt directly
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return load_model(path, resolve_device(g.device)), tokenizer, path


def encode_prompts(tokenizer, prompts: list[str]):
    """Left-padded ids of `<eos> + prompt`: a prompt starts a document, and in retlab's training streams every
    document follows an <eos> (there is no <bos>)."""
    start = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    ids = [start + tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    if not all(ids):
        raise ConfigError("generate.prompts", "a prompt is empty", "give some text to continue")
    return tokenizer.pad({"input_ids": ids}, padding=True, return_tensors="pt")


def preflight(cfg) -> None:
    """Prompts to continue and a loadable model, checked before anything is loaded."""
    g = cfg.generate
    if not g.prompts:
        raise ConfigError(
            "generate.prompts",
            "is empty",
            "give one or more prompts, e.g. --generate.prompts '[\"Once upon a time\"]'",
        )
    resolve_models([g.model] if g.model else [], cfg, "generate.model")


@torch.no_grad()
def generate(cfg, out=None) -> dict:
    """Continue every prompt of cfg.generate.prompts; returns texts, time_to_first_token_s and tokens_per_s.
    Prints to `out`, default the current sys.stdout (looked up per call, so redirecting stdout captures it)."""
    g, out = cfg.generate, out or sys.stdout
    preflight(cfg)
    model, tokenizer, path = load_generator(cfg)
    batch = encode_prompts(tokenizer, g.prompts).to(model.device)
    echo = len(g.prompts) == 1
    if echo:
        out.write(g.prompts[0])
    streamer = TerminalStreamer(tokenizer, echo, out)
    torch.manual_seed(cfg.seed)
    start = time.perf_counter()
    kwargs = generation_kwargs(g, tokenizer, model)
    ids = model.generate(**batch, streamer=streamer, **kwargs)  # (B, prompt + new)
    seconds = time.perf_counter() - start
    new = ids[:, batch["input_ids"].shape[1] :]  # (B, new); finished rows are padded
    texts = tokenizer.batch_decode(new, skip_special_tokens=True)
    if not echo:
        for prompt, text in zip(g.prompts, texts, strict=True):
            out.write(f"--- {prompt}{text}\n")
    n_new = _new_tokens(new, model.generation_config.eos_token_id)
    ttft = (streamer.first_token_at or time.perf_counter()) - start
    stats = {
        "time_to_first_token_s": ttft,
        "tokens_per_s": n_new / seconds,
        "new_tokens": n_new,
        "wall_time_s": seconds,
    }
    out.write(
        f"generate: {path}: {n_new} new tokens in {seconds:.2f} s ({stats['tokens_per_s']:.1f} tokens/s), time to first token {ttft * 1000:.1f} ms\n"
    )
    return {"model": str(path), "prompts": list(g.prompts), "texts": texts, **stats}


def _new_tokens(new: torch.Tensor, eos_id) -> int:
    """Generated tokens per row up to and including its first eos (what follows is padding)."""
    eos_ids = torch.tensor(
        eos_id if isinstance(eos_id, list) else [eos_id] if eos_id is not None else [], device=new.device
    )
    is_eos = torch.isin(new, eos_ids)  # (B, new)
    done_before = torch.cumsum(is_eos.long(), dim=1) - is_eos.long() > 0  # positions after the first eos
    return int((~done_before).sum())
