"""Exported checkpoints are self-contained: they load through the Auto classes, even where retlab is absent."""

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch
from transformers import AutoModelForCausalLM

from retlab.models import (
    RetNetConfig,
    RetNetForCausalLM,
    TransformerConfig,
    TransformerForCausalLM,
    export_hf,
)

SHARED = dict(vocab_size=53, hidden_size=32, num_hidden_layers=2, num_heads=4, intermediate_size=48)
TOKENS = dict(pad_token_id=0, bos_token_id=1, eos_token_id=2)

# Runs in a fresh interpreter, outside the repository. Loading happens while `import retlab` is impossible;
# afterwards the script imports retlab to record what that import pulls in (one interpreter start for both).
FRESH_PROCESS = textwrap.dedent(
    """
    import json, sys
    sys.modules["retlab"] = None  # any `import retlab...` now raises ImportError
    import torch
    from transformers import AutoModelForCausalLM

    ids_path, report_path, *checkpoints = sys.argv[1:]
    ids = torch.load(ids_path)
    for checkpoint in checkpoints:
        model = AutoModelForCausalLM.from_pretrained(checkpoint, trust_remote_code=True).eval()
        assert not type(model).__module__.startswith("retlab"), type(model).__module__
        with torch.no_grad():
            torch.save(model(ids).logits, f"{checkpoint}/logits.pt")
        if model.config.model_type == "retlab-transformer":  # both KV caches decode the exported code
            greedy = dict(max_new_tokens=6, min_new_tokens=6, do_sample=False)
            caches = [model.generate(ids, cache_implementation=c, **greedy) for c in ("dynamic", "static")]
            torch.save(torch.stack(caches), f"{checkpoint}/generated.pt")

    del sys.modules["retlab"]
    import retlab
    from transformers import AutoConfig
    types = ("retlab-retnet", "retlab-transformer", "retlab-torchscale-retnet", "retlab-torchscale-transformer")
    registered = [AutoConfig.for_model(t).model_type for t in types]
    json.dump({"registered": registered, "torchscale_imported": "torchscale" in sys.modules}, open(report_path, "w"))
    """
)


def build(kind: str):
    torch.manual_seed(0)
    if kind == "retnet":
        return RetNetForCausalLM(RetNetConfig(**SHARED, **TOKENS)).eval()
    return TransformerForCausalLM(TransformerConfig(**SHARED, **TOKENS)).eval()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """{kind: (model, checkpoint dir)} for both native models."""
    root = tmp_path_factory.mktemp("export")
    result = {}
    for kind in ("retnet", "transformer"):
        model = build(kind)
        result[kind] = (model, export_hf(model, root / kind))
    return result


@pytest.fixture(scope="module")
def ids():
    return torch.randint(3, 53, (2, 11), generator=torch.Generator().manual_seed(0))


def test_checkpoint_ships_weights_code_and_generation_config(exported):
    for _, out in exported.values():
        files = {p.name for p in out.iterdir()}
        assert {"model.safetensors", "config.json", "generation_config.json"} <= files
        auto_map = json.loads((out / "config.json").read_text())["auto_map"]
        for reference in auto_map.values():  # "modeling_x.ClassName" -> modeling_x.py shipped
            assert f"{reference.split('.')[0]}.py" in files
        assert json.loads((out / "generation_config.json").read_text())["eos_token_id"] == 2
        assert not any(name.endswith(".tmp") for name in os.listdir(out.parent))  # atomic: no leftovers


@pytest.fixture(scope="module")
def fresh_process(exported, ids, tmp_path_factory) -> dict:
    """Run FRESH_PROCESS on both checkpoints; return its report."""
    work = tmp_path_factory.mktemp("fresh")
    torch.save(ids, work / "ids.pt")
    (work / "script.py").write_text(FRESH_PROCESS)
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_MODULES_CACHE": str(work / "modules"),
        "OMP_NUM_THREADS": "1",
    }
    env.pop("PYTHONPATH", None)
    checkpoints = [str(out) for _, out in exported.values()]
    command = [sys.executable, "script.py", "ids.pt", "report.json", *checkpoints]
    proc = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((work / "report.json").read_text())


def test_loads_where_retlab_cannot_be_imported(exported, ids, fresh_process):
    for model, out in exported.values():
        with torch.no_grad():
            expected = model(ids).logits
        torch.testing.assert_close(torch.load(out / "logits.pt"), expected, rtol=0, atol=1e-6)


def test_exported_transformer_decodes_with_a_static_cache_where_retlab_cannot_be_imported(
    exported, ids, fresh_process
):
    model, out = exported["transformer"]
    dynamic, static = torch.load(out / "generated.pt")
    assert torch.equal(static, dynamic)
    assert torch.equal(dynamic, model.generate(ids, max_new_tokens=6, min_new_tokens=6, do_sample=False))


def test_importing_retlab_registers_the_native_models_without_importing_torchscale(fresh_process):
    assert fresh_process["registered"] == [
        "retlab-retnet",
        "retlab-transformer",
        "retlab-torchscale-retnet",
        "retlab-torchscale-transformer",
    ]
    assert fresh_process["torchscale_imported"] is False


def test_loads_in_process_through_the_auto_class(exported, ids):
    for model, out in exported.values():
        loaded = AutoModelForCausalLM.from_pretrained(out).eval()
        assert type(loaded) is type(model)
        with torch.no_grad():
            assert torch.equal(loaded(ids).logits, model(ids).logits)


def test_export_replaces_an_existing_checkpoint_whole(exported, tmp_path):
    model, _ = exported["transformer"]
    out = tmp_path / "final"
    out.mkdir()
    (out / "stale.txt").write_text("from an older run")
    export_hf(model, out)
    assert not (out / "stale.txt").exists() and (out / "model.safetensors").is_file()


def test_tokenizer_files_travel_with_the_checkpoint(exported, tmp_path):
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, "a": 3}
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.WordLevel(vocab, unk_token="<pad>"))
    )
    out = export_hf(exported["transformer"][0], tmp_path / "with_tok", tokenizer=tokenizer)
    assert (out / "tokenizer.json").is_file()
