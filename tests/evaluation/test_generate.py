"""`retlab generate`: seeded sampling reproduces, greedy decoding through the cache equals a plain argmax loop,
a left-padded batch equals its prompts one by one, and a single prompt streams to the terminal."""

import dataclasses
import io

import pytest
import torch

from retlab.errors import ConfigError
from retlab.evaluation.generate import encode_prompts, generate, load_generator

from .conftest import ARCHS, run_config

PROMPTS = ["First Citizen: Before we", "You are"]


@pytest.fixture(scope="module", params=ARCHS)
def cfg(request, run_dir, corpus):
    return run_config(
        run_dir,
        corpus,
        **{"generate.model": f"{run_dir}/tiny/{request.param}/best", "generate.prompts": PROMPTS},
    )


def run(cfg, **changes):
    g = cfg.generate
    saved = {k: getattr(g, k) for k in changes}
    for k, v in changes.items():
        setattr(g, k, v)
    try:
        return generate(cfg, out=io.StringIO())
    finally:
        for k, v in saved.items():
            setattr(g, k, v)


def test_sampling_is_reproducible_with_a_seed(cfg):
    first = run(cfg, do_sample=True, temperature=1.5)["texts"]
    assert run(cfg, do_sample=True, temperature=1.5)["texts"] == first
    cfg.seed = 1
    try:
        assert run(cfg, do_sample=True, temperature=1.5)["texts"] != first
    finally:
        cfg.seed = 0


def test_greedy_batch_equals_plain_argmax_decoding_of_each_prompt(cfg):
    batch = run(cfg)["texts"]  # left-padded batch, decoded through the cache
    model, tokenizer, _ = load_generator(cfg)
    for prompt, text in zip(PROMPTS, batch, strict=True):
        ids = encode_prompts(tokenizer, [prompt])["input_ids"]  # (1, T): <eos> + prompt, no padding
        prompt_len = ids.shape[1]
        with torch.no_grad():
            for _ in range(cfg.generate.max_new_tokens):  # full forward pass per token, no cache
                next_id = model(ids).logits[:, -1].argmax(-1, keepdim=True)
                ids = torch.cat([ids, next_id], dim=1)
                if next_id.item() == tokenizer.eos_token_id:
                    break
        new = ids[0, prompt_len:]
        assert text == tokenizer.decode(new, skip_special_tokens=True)


def test_decoding_feeds_one_token_per_step_through_the_cache(cfg, monkeypatch):
    """After the prompt, every step reads only the new token: RetNet's state / the KV cache carry the rest."""
    import retlab.evaluation.generate as gen

    lengths: list[int] = []

    def load_and_watch(*args, **kwargs):
        model = load_model(*args, **kwargs)
        model.register_forward_pre_hook(
            lambda m, a, kw: lengths.append(kw["input_ids"].shape[1]), with_kwargs=True
        )
        return model

    load_model = gen.load_model
    monkeypatch.setattr(gen, "load_model", load_and_watch)
    r = run(cfg, prompts=PROMPTS[:1])
    prompt_len = encode_prompts(load_generator(cfg)[1], PROMPTS[:1])["input_ids"].shape[1]
    assert lengths == [prompt_len] + [1] * (r["new_tokens"] - 1)


def test_generate_cache_picks_the_kv_cache_and_both_give_the_same_text(cfg, monkeypatch):
    import retlab.evaluation.generate as gen

    caches: list[str] = []

    def load_and_watch(*args, **kwargs):
        model = load_model(*args, **kwargs)
        model.register_forward_pre_hook(
            lambda m, a, kw: caches.append(type(kw.get("cache")).__name__), with_kwargs=True
        )
        return model

    load_model = gen.load_model
    monkeypatch.setattr(gen, "load_model", load_and_watch)
    static = run(cfg, cache="static")["texts"]
    used_static, caches[:] = set(caches), []
    dynamic = run(cfg, cache="dynamic")["texts"]
    assert static == dynamic
    if cfg.generate.model.endswith("transformer/best"):
        assert used_static == {"StaticCache"} and set(caches) == {"DynamicCache"}
    else:  # RetNet decodes from its recurrent state whatever generate.cache says
        assert used_static == set(caches) and "StaticCache" not in used_static


def test_single_prompt_streams_and_reports_speed(cfg):
    out = io.StringIO()
    cfg.generate.prompts = PROMPTS[:1]
    try:
        r = generate(cfg, out=out)
    finally:
        cfg.generate.prompts = PROMPTS
    printed = out.getvalue()
    assert printed.startswith(PROMPTS[0] + r["texts"][0] + "\n")
    assert "tokens/s" in printed and "time to first token" in printed
    assert 0 < r["time_to_first_token_s"] <= r["wall_time_s"]
    assert 0 < r["new_tokens"] <= cfg.generate.max_new_tokens and r["tokens_per_s"] > 0


def test_prompts_start_a_document_after_eos_and_pad_on_the_left(cfg):
    tokenizer = load_generator(cfg)[1]
    batch = encode_prompts(tokenizer, ["Hi", "Longer prompt here"])
    short = tokenizer("Hi", add_special_tokens=False)["input_ids"]
    width = batch["input_ids"].shape[1]
    assert batch["input_ids"][0, width - len(short) - 1 :].tolist() == [tokenizer.eos_token_id, *short]
    assert batch["attention_mask"][0].tolist() == [0] * (width - len(short) - 1) + [1] * (len(short) + 1)


def test_an_mqar_export_without_a_tokenizer_speaks_the_runs_task_words(mqar_run):
    """Exports from before MQAR exports carried a tokenizer: the run's vocabulary names the ids."""
    from retlab.data.mqar import tokenizer

    g = dataclasses.replace(mqar_run.generate, prompts=["k1 v2 k0"], max_new_tokens=4)
    (text,) = generate(dataclasses.replace(mqar_run, generate=g), out=io.StringIO())["texts"]
    words = set(tokenizer(mqar_run.data.mqar.vocab_size).get_vocab())
    assert text.startswith(" ") and text.split() and set(text.split()) <= words


def test_a_model_without_any_tokenizer_is_a_config_error(tmp_path, corpus):
    from retlab.layout import RunLayout
    from retlab.models.export import export_hf

    from .conftest import tiny_model

    cfg = run_config(tmp_path, corpus, name="bare")
    export_hf(tiny_model("transformer", 64), RunLayout.of(cfg).arch("transformer").best)
    cfg.generate.model = str(RunLayout.of(cfg).arch("transformer").best)
    with pytest.raises(ConfigError, match="generate.model: .* has no tokenizer"):
        generate(cfg, out=io.StringIO())
