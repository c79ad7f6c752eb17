"""Training behaviour on real text: resume parity, per-optimiser-step LR, test on the best checkpoint, HF export."""

import math
from pathlib import Path

import lightning as L
import pytest
import torch
import yaml
from transformers import AutoModelForCausalLM

from retlab.data import RetlabDataModule, prepare
from retlab.models.loss import aligned_lm_loss
from retlab.training.module import CausalLMModule
from retlab.training.optim import lr_factor
from retlab.training.train import train
from retlab.utils.files import read_json

from .configs import METRIC_KEYS, text_config


class Recorder(L.Callback):
    """Loss of every micro-batch keyed by (epoch, batch index), and the lr of every optimiser step."""

    def __init__(self):
        self.losses: dict[tuple[int, int], float] = {}
        self.lrs: list[float] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.losses[(trainer.current_epoch, batch_idx)] = outputs["loss"].item()

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        self.lrs.append(optimizer.param_groups[0]["lr"])


class Killed(Exception):
    pass


class KillAt(L.Callback):
    """Simulates a killed job: dies at optimiser step `step`, after some checkpoints but before the end."""

    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step >= self.step:
            raise Killed(f"killed at step {trainer.global_step}")


class SpoilOnce(L.Callback):
    """Adds large noise to the weights once at `step`, so every later validation is worse than the one before."""

    def __init__(self, step: int):
        self.step, self.done = step, False

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.step and not self.done:
            with torch.no_grad():
                for p in pl_module.parameters():
                    p.add_(torch.randn_like(p))
            self.done = True


# Accumulation and dropout make resumption harder: micro-batch position and RNG streams must both be restored.
RESUMABLE = {
    "train.accumulate_grad_batches": 2,
    "train.max_steps": 10,
    "train.every_n_train_steps": 3,
    "train.val_check_interval": 8,
    "model.dropout": 0.1,
}


@pytest.fixture(scope="module")
def reference(shared_data, tmp_path_factory):
    """An uninterrupted run: (config, recorder, metrics)."""
    cfg = text_config(shared_data, tmp_path_factory.mktemp("runs"), "ref", **RESUMABLE)
    rec = Recorder()
    metrics = train(cfg, extra_callbacks=(rec,))
    return cfg, rec, metrics


def test_resume_after_kill_matches_uninterrupted_run_exactly(reference, shared_data, tmp_path):
    _, ref, ref_metrics = reference
    cfg = text_config(shared_data, tmp_path, "cut", **RESUMABLE)
    before = Recorder()
    with pytest.raises(Killed):
        train(cfg, extra_callbacks=(before, KillAt(8)))
    after = Recorder()
    resumed = text_config(shared_data, tmp_path, "cut", **RESUMABLE | {"train.resume": "auto"})
    metrics = train(resumed, extra_callbacks=(after,))

    # The last checkpoint was at optimiser step 6 = micro-batch 12: the resumed run starts mid-epoch right there.
    assert min(after.losses) == (0, 12)
    assert {k: before.losses[k] for k in ref.losses if k in before.losses} == {
        k: ref.losses[k] for k in before.losses
    }
    assert after.losses == {k: ref.losses[k] for k in after.losses}  # exact, per micro-batch
    assert max(after.losses) == max(ref.losses)
    assert metrics["steps"] == ref_metrics["steps"] == 10
    assert metrics["test_loss"] == ref_metrics["test_loss"]


def test_same_seed_same_losses_other_seed_differs(reference, shared_data, tmp_path):
    _, ref, _ = reference
    again = Recorder()
    train(text_config(shared_data, tmp_path, "again", **RESUMABLE), extra_callbacks=(again,))
    assert again.losses == ref.losses
    other = Recorder()
    train(text_config(shared_data, tmp_path, "other", seed=1, **RESUMABLE), extra_callbacks=(other,))
    assert other.losses != ref.losses


def test_lr_schedule_steps_once_per_optimiser_step(reference):
    cfg, ref, _ = reference
    t = cfg.train
    assert len(ref.lrs) == 10  # 20 micro-batches, accumulation 2
    expected = [t.lr * lr_factor(i, t.warmup_steps, 10, t.schedule, t.min_lr_ratio) for i in range(10)]
    assert ref.lrs == pytest.approx(expected, rel=1e-6)


def test_metrics_and_layout(reference):
    cfg, _, metrics = reference
    run = Path(cfg.output_dir) / cfg.name / "transformer"
    for key in sorted(METRIC_KEYS):
        assert metrics[key] is not None, key
    assert metrics == read_json(run / "metrics.json")
    assert metrics["tokens"] == 10 * 2 * 8 * 32
    assert metrics["test_ppl"] == pytest.approx(math.exp(metrics["test_loss"]), rel=1e-5)
    header = (run / "logs" / "csv" / "metrics.csv").open().readline().strip().split(",")
    for column in (
        "train/loss",
        "val/loss",
        "val/ppl",
        "lr",
        "grad_norm",
        "throughput/tokens_per_s",
        "memory/peak_rss_mib",
        "step",
    ):
        assert column in header


def test_tensorboard_hparams_hold_the_resolved_run_and_its_final_metrics(reference):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    cfg, _, metrics = reference
    logs = Path(cfg.output_dir) / cfg.name / "transformer" / "logs" / "tensorboard"
    events = EventAccumulator(str(logs), size_guidance={"tensors": 0, "scalars": 0})
    events.Reload()
    assert "hp_metric" not in events.Tags()["scalars"]  # no -1 placeholder
    for key, tag in (
        ("best_val_loss", "hp/best_val_loss"),
        ("test_loss", "hp/test_loss"),
        ("test_ppl", "hp/test_ppl"),
    ):
        # once, with the run's own figure, at its last step (not Lightning's step 0)
        assert [(e.step, e.value) for e in events.Scalars(tag)] == [
            (metrics["steps"], pytest.approx(metrics[key], rel=1e-6))
        ]
    plugin = events.PluginTagToContent("hparams")
    session = plugin_data_pb2.HParamsPluginData.FromString(plugin["_hparams_/session_start_info"])
    hparams = {k: v.number_value or v.string_value for k, v in session.session_start_info.hparams.items()}
    assert hparams["train/lr"] == pytest.approx(cfg.train.lr) and hparams["train/batch_size"] == 8
    assert (
        hparams["model/intermediate_size"] == metrics["intermediate_size"]
        and hparams["model/arch"] == "transformer"
    )
    experiment = plugin_data_pb2.HParamsPluginData.FromString(plugin["_hparams_/experiment"]).experiment
    assert {m.name.tag for m in experiment.metric_infos} == {
        "hp/best_val_loss",
        "hp/test_loss",
        "hp/test_ppl",
    }
    saved = yaml.safe_load((logs / "hparams.yaml").read_text())
    assert saved["train/lr"] == pytest.approx(cfg.train.lr) and saved["train/schedule"] == cfg.train.schedule


def _test_loss(model, cfg) -> float:
    """Token-mean test loss of an HF causal LM over the run's test split."""
    dm = RetlabDataModule(cfg, prepare(cfg))
    dm.setup("test")
    total, count = 0.0, 0
    with torch.no_grad():
        for batch in dm.test_dataloader():
            logits = model(batch["input_ids"]).logits
            total += aligned_lm_loss(logits, batch["labels"], reduction="sum").item()
            count += int((batch["labels"] != -100).sum())
    return total / count


def test_tests_the_best_checkpoint_stops_early_and_exports_load_as_hf_models(shared_data, tmp_path):
    overrides = {"train.val_check_interval": 2, "train.early_stopping_patience": 2}
    cfg = text_config(shared_data, tmp_path, "best", **overrides)
    metrics = train(cfg, extra_callbacks=(SpoilOnce(3),))
    run = tmp_path / "best" / "transformer"
    assert "step=2-" in metrics["best_checkpoint"]  # later validations saw the spoiled weights
    assert metrics["steps"] == 6  # two validations without improvement (steps 4, 6) stop it early
    assert (run / "checkpoints" / "last.ckpt").is_file()

    best = AutoModelForCausalLM.from_pretrained(run / "best", trust_remote_code=True).eval()
    final = AutoModelForCausalLM.from_pretrained(run / "final", trust_remote_code=True).eval()
    assert metrics["test_loss"] == pytest.approx(_test_loss(best, cfg), rel=1e-5)
    assert abs(_test_loss(final, cfg) - metrics["test_loss"]) > 0.1
    for export in ("best", "final"):  # both exports carry the run's tokenizer
        assert (run / export / "tokenizer.json").is_file() and (run / export / "model.safetensors").is_file()

    # The export computes the same function as the Lightning module rebuilt from the checkpoint alone.
    module = CausalLMModule.load_from_checkpoint(metrics["best_checkpoint"]).eval()
    ids = torch.randint(3, 300, (2, 32))
    with torch.no_grad():
        torch.testing.assert_close(best(ids).logits, module(ids), rtol=0, atol=1e-6)


def test_padding_does_not_change_the_loss(shared_data, tmp_path):
    cfg = text_config(shared_data, tmp_path, "pad")
    info = prepare(cfg)
    from retlab.models.factory import DataShape, contender_configs

    configs = contender_configs(cfg.model, cfg.compare, DataShape.of(info))
    module = CausalLMModule(configs["transformer"], cfg.train).eval()
    torch.manual_seed(0)
    a, b = torch.randint(3, 300, (1, 11)), torch.randint(3, 300, (1, 17))
    pad = torch.full((1, 6), info.pad_token_id)
    ids = torch.cat([torch.cat([a[:, :-1], pad], 1), b[:, :-1]])  # (2, 16): `a` is right-padded
    labels = torch.cat([torch.cat([a[:, 1:], torch.full((1, 6), -100)], 1), b[:, 1:]])
    mask = (labels != -100).long()
    mask[1] = 1
    with torch.no_grad():
        padded = module.loss({"input_ids": ids, "labels": labels, "attention_mask": mask})
        sums = [aligned_lm_loss(module(x[:, :-1]), x[:, 1:], reduction="sum") for x in (a, b)]
    assert padded.item() == pytest.approx((sum(sums) / (10 + 16)).item(), rel=1e-5)
