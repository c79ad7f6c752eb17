"""One LightningModule for every causal LM retlab builds: the architecture lives in the wrapped HF model."""

import math

import lightning as L
import torch
from transformers import PreTrainedConfig

from ..models.factory import build_model, config_from_dict
from ..models.loss import IGNORE_INDEX, aligned_lm_loss
from .optim import configure_optimizers

# Sums kept per evaluation split: loss over tokens, tokens, MQAR correct answers, MQAR answers.
_SUM_FIELDS = 4


class CausalLMModule(L.LightningModule):
    """Trains `model` on ALIGNED (input_ids, labels) batches; evaluation losses are exact token means."""

    def __init__(
        self,
        model_config: PreTrainedConfig | dict,
        train_cfg=None,
        total_steps: int = 1,
        seed: int = 0,
        task: str = "lm",
    ):
        super().__init__()
        config = config_from_dict(model_config)
        # The model config as a dict travels in every checkpoint, so a checkpoint alone rebuilds the model.
        self.save_hyperparameters(
            {"model_config": config.to_dict(), "total_steps": total_steps, "seed": seed, "task": task},
            logger=False,  # the loggers get the run's resolved hyperparameters instead (logs.log_run_hparams)
        )
        self.train_cfg, self.total_steps, self.task = train_cfg, total_steps, task
        self.model = build_model(config, seed=seed)
        self._sums: dict[str, torch.Tensor] = {}

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.model(input_ids, attention_mask=attention_mask).logits  # (B, T, V)

    # ------------------------------------------------------------ training

    def loss(self, batch: dict) -> torch.Tensor:
        """Mean cross-entropy over the batch's real tokens (labels != -100: padding and non-answers excluded)."""
        return aligned_lm_loss(self(batch["input_ids"], batch.get("attention_mask")), batch["labels"])

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss = self.loss(batch)
        self.log("train/loss", loss, prog_bar=True, batch_size=batch["input_ids"].size(0))
        self.log("lr", self.optimizers().param_groups[0]["lr"])
        return loss

    def on_before_optimizer_step(self, optimizer) -> None:
        # Before clipping: the norm the clipping threshold is compared with (one fused norm, no per-tensor dict).
        grads = [p.grad for p in self.model.parameters() if p.grad is not None]
        self.log("grad_norm", torch.nn.utils.get_total_norm(grads, norm_type=2))

    def configure_optimizers(self) -> dict:
        return configure_optimizers(self.model, self.train_cfg, self.total_steps)

    # ------------------------------------------------------------ validation and test

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._accumulate("val", batch)

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self._accumulate("test", batch)

    def on_validation_epoch_end(self) -> None:
        self._log_split("val")

    def on_test_epoch_end(self) -> None:
        self._log_split("test")

    def _accumulate(self, split: str, batch: dict) -> None:
        """Add this batch's summed loss, token count and MQAR hits to the split's running sums."""
        labels = batch["labels"]
        logits = self(batch["input_ids"], batch.get("attention_mask"))
        mask = labels != IGNORE_INDEX
        sums = torch.stack(
            [
                aligned_lm_loss(logits, labels, reduction="sum").detach(),
                mask.sum().float(),
                ((logits.argmax(-1) == labels) & mask).sum().float(),
                mask.sum().float(),
            ]
        )
        self._sums[split] = self._sums.get(split, torch.zeros(_SUM_FIELDS, device=self.device)) + sums

    def _log_split(self, split: str) -> None:
        """Token-weighted means over the whole split, summed across processes first (not a mean of batch means)."""
        sums = self._sums.pop(split, torch.zeros(_SUM_FIELDS, device=self.device))
        sums = self.trainer.strategy.reduce(sums, reduce_op="sum")
        loss = (sums[0] / sums[1].clamp(min=1)).item()
        if (
            split == "test"
        ):  # logged at the step the model was trained to, also after a resume that trained none
            self.log("step", float(self.trainer.global_step), sync_dist=False)
        self.log(f"{split}/loss", loss, prog_bar=split == "val", sync_dist=False)
        self.log(f"{split}/ppl", math.exp(min(loss, 50.0)), sync_dist=False)
        if self.task == "mqar":
            self.log(f"{split}/mqar_accuracy", (sums[2] / sums[3].clamp(min=1)).item(), sync_dist=False)
