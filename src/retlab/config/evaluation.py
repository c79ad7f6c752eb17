"""The `eval` and `generate` sections."""

from dataclasses import dataclass, field
from typing import Literal

from .checks import Problem, device_problems, non_negative, path_field, positive, require


@dataclass
class EvalConfig:
    """Perplexity, lm-evaluation-harness tasks and MQAR accuracy for `retlab eval`."""

    models: list[str] = field(default_factory=list)
    """Run folders or Hugging Face export directories to evaluate (default: the run's architectures)."""
    tasks: list[str] = field(default_factory=list)
    """lm-evaluation-harness tasks, e.g. hellaswag, piqa, arc_easy (empty: perplexity only)."""
    num_fewshot: int = 0
    """Few-shot examples per task."""
    limit: int | None = None
    """Evaluate at most this many examples per task."""
    batch_size: int = 8
    """Evaluation batch size."""
    data_dir: str | None = path_field()
    """Local task data in the layout of shared/data/eval (wikitext reads wikitext/wiki.test.raw there, else
    ../corpora/wikitext-2-raw/); unset: the harness's own Hub tasks (needs the Hub or its cache)."""
    stride: int | None = None
    """Sliding-window stride for test perplexity; windows are data.seq_len tokens (default stride: data.seq_len,
    i.e. consecutive chunks; smaller strides give every token at least seq_len - stride tokens of context)."""
    max_length: int | None = None
    """Longest input the harness feeds a model; longer contexts lose their oldest tokens (default: data.seq_len)."""
    position_loss_multiples: list[int] = field(default_factory=list)
    """Loss by token position (length extrapolation) on windows of max(this) x data.seq_len tokens packed from
    the test split, averaged per band of positions up to each multiple of data.seq_len, e.g. [1, 2, 4]: the
    bands [0, 1x), [1x, 2x), [2x, 4x) (empty: not measured)."""
    generate_samples: bool = False
    """Also continue `generate.prompts` with every model (the `generate` section's settings) and record the
    texts in results.json and the report."""
    device: str = "auto"
    """`auto` (cuda when available), `cpu`, `cuda` or `cuda:N`."""

    def problems(self) -> list[Problem]:
        bad = device_problems(self.device, "eval.device") + non_negative(self, "eval", "num_fewshot")
        bad += positive(self, "eval", "batch_size")
        bad += require(
            all(m >= 1 for m in self.position_loss_multiples),
            "eval.position_loss_multiples",
            f"needs multiples >= 1 of data.seq_len, got {self.position_loss_multiples}",
            "e.g. [1, 2, 4]",
        )
        return bad + positive(self, "eval", "limit", "stride", "max_length", optional=True)


@dataclass
class GenerateConfig:
    """Text generation for `retlab generate`; sampling is seeded by the top-level `seed`."""

    model: str | None = path_field()
    """Run folder or export directory (default: the run's first architecture, best checkpoint)."""
    prompts: list[str] = field(default_factory=lambda: ["Once upon a time"])
    """Prompts to continue (the original study's input_starting_strings)."""
    max_new_tokens: int = 64
    """Tokens to generate per prompt."""
    do_sample: bool = False
    """Sample instead of greedy decoding."""
    temperature: float = 1.0
    """Sampling temperature."""
    top_k: int | None = None
    """Sample from the k most likely tokens."""
    top_p: float | None = None
    """Nucleus sampling threshold."""
    cache: Literal["static", "dynamic"] = "static"
    """The Transformer's KV cache: `static` (pre-allocated for prompt + max_new_tokens, written in place) or
    `dynamic` (grown by concatenation, copying the whole cache every step). Same tokens either way; RetNet always
    decodes from its recurrent state."""
    device: str = "auto"
    """`auto` (cuda when available), `cpu`, `cuda` or `cuda:N`."""

    def problems(self) -> list[Problem]:
        bad = device_problems(self.device, "generate.device")
        bad += positive(self, "generate", "max_new_tokens", "temperature")
        bad += positive(self, "generate", "top_k", optional=True)
        return bad + require(
            self.top_p is None or 0 < self.top_p <= 1,
            "generate.top_p",
            f"must be in (0, 1], got {self.top_p}",
            "use e.g. 0.9",
        )
