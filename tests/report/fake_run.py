"""The files of a small but realistic run folder, in the formats training and evaluation write."""

import csv
import json

ARCHS = ("retnet", "transformer")
CSV_HEADER = ["epoch", "grad_norm", "lr", "memory/peak_rss_mib", "step", "throughput/tokens_per_s"]
CSV_HEADER += ["train/loss", "val/loss", "val/mqar_accuracy", "val/ppl"]
EMISSIONS_HEADER = ["timestamp", "project_name", "run_id", "duration", "emissions", "emissions_rate"]
EMISSIONS_HEADER += ["cpu_power", "gpu_power", "ram_power", "cpu_energy", "gpu_energy", "ram_energy"]
EMISSIONS_HEADER += ["energy_consumed", "country_name", "country_iso_code"]
INTERMEDIATE = {"retnet": 176, "transformer": 264}  # matched sizes differ per architecture
VOCAB = 32  # the data's real vocabulary (the config's tokenizer.vocab_size keeps its default, 8192)


def write_csv(path, header, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=header)
        w.writeheader()
        w.writerows(rows)


def log_rows(offset: float, steps=range(10, 110, 10)) -> list[dict]:
    """Lightning's CSV rows: training rows every 10 steps, validation rows every 50 (written separately)."""
    rows = []
    for step in steps:
        rows.append(
            {"epoch": 0, "step": step, "lr": 3e-4, "train/loss": 5.0 - step / 40 + offset, "grad_norm": 1.1}
            | {"throughput/tokens_per_s": 5000 + 10 * step}
        )
        if step % 50 == 0:
            rows.append(
                {"epoch": 0, "step": step, "val/loss": 4.9 - step / 45 + offset, "val/ppl": 50.0}
                | {"val/mqar_accuracy": step / 120 - offset}
            )
    return rows


def write_arch(layout, arch: str, offset: float) -> None:
    a = layout.arch(arch)
    write_csv(a.csv / "metrics.csv", CSV_HEADER, log_rows(offset))
    metrics = {"arch": arch, "params": 1_234_567 + int(offset * 10), "intermediate_size": INTERMEDIATE[arch]}
    metrics |= {
        "best_val_loss": 2.7 + offset,
        "best_val_ppl": 14.9,
        "test_loss": 2.75 + offset,
        "test_ppl": 15.6,
        "test_mqar_accuracy": 0.8 - offset,
    }
    metrics |= {"train_tokens_per_s": 5321.4, "fit_time_s": 60.1, "wall_time_s": 61.2, "steps": 100}
    metrics |= {"tokens": 409_600, "peak_rss_mib": 903.4, "fingerprint": "abc123", "seed": 0}
    metrics["best_checkpoint"] = str(a.checkpoints / "best.ckpt")
    a.root.mkdir(parents=True, exist_ok=True)
    a.metrics.write_text(json.dumps(metrics))
    a.best.mkdir(parents=True, exist_ok=True)
    model = {"model_type": f"retlab-{arch}", "hidden_size": 64, "num_hidden_layers": 2, "num_heads": 2}
    model |= {"intermediate_size": INTERMEDIATE[arch], "vocab_size": VOCAB, "max_position_embeddings": 32}
    model |= {"value_dim": 128, "decay": "torchscale"} if arch == "retnet" else {"positional": "rope"}
    (a.best / "config.json").write_text(json.dumps(model))
    energy = {"duration": 61.2, "emissions": 1.2e-5, "energy_consumed": 3.4e-4, "country_name": "France"}
    write_csv(a.emissions, EMISSIONS_HEADER, [energy | {"timestamp": "2026-11-29T05:00:00", "run_id": "x"}])


def position_loss_entry(offset: float) -> dict:
    """eval/results.json's position_loss as `retlab eval` writes it (seq_len 16, multiples [1, 2])."""
    start, end = [0, 1, 2, 8, 16, 24], [1, 2, 8, 16, 24, 32]
    loss = [5.0 + offset, 4.0, 3.5 + offset, 3.25, 3.4 + offset, 3.9 + 2 * offset]
    curve = {"start": start, "end": end, "loss": loss, "stderr": [0.1] * 6}
    bands = {
        "loss_0x_1x": {"value": 3.4 + offset, "stderr": 0.05},
        "loss_1x_2x": {"value": 3.6, "stderr": None},
    }
    return {"n": 7, **bands, "seq_len": 16, "multiples": [1, 2], "curve": curve}


def mqar_entry(offset: float) -> dict:
    """eval/results.json's mqar task as `retlab eval` writes it (evaluation/mqar.py)."""
    return {
        "n": 800,
        "accuracy": {"value": 0.9 - offset, "stderr": 0.0106},
        "accuracy_kv2": {"value": 0.98 - offset, "stderr": 0.007},
        "accuracy_kv4": {"value": 0.82 - offset, "stderr": 0.0192},
        "chance_accuracy": {"value": 1 / 14, "stderr": None},
    }


def eval_results() -> dict:
    scores = {}
    for i, arch in enumerate(ARCHS):
        scores[arch] = {
            "lambada_openai": {"n": 100, "acc": {"value": 0.31 + 0.1 * i, "stderr": 0.0231}},
            "perplexity": {
                "n": 5000,
                "loss": {"value": 3.2 + i, "stderr": None},
                "ppl": {"value": 24.53, "stderr": None},
            },
            "position_loss": position_loss_entry(offset=0.5 * i),
            "mqar": mqar_entry(offset=0.1 * i),
        }
    models = {arch: {"path": f"{arch}/best", "params": 1_234_567, "wall_time_s": 3.0} for arch in ARCHS}
    for arch in ARCHS:
        models[arch]["samples"] = [
            {"prompt": "Once upon a time", "text": f", {arch} *met* a | cat.\nThe end"}
        ]
    return {"labels": list(ARCHS), "results": scores, "models": models, "settings": {"limit": 100}}
