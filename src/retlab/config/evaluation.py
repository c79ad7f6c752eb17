"""The `eval` and `generate` sections."""

from dataclasses import dataclass, field


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
    data_dir: str | None = None
    """Local task data (the layout of shared/data/eval); unset: the harness's own Hub tasks."""
    stride: int | None = None
    """Sliding-window stride for perplexity over long text (default: the trained sequence length)."""


@dataclass
class GenerateConfig:
    """Text generation for `retlab generate`."""

    model: str | None = None
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
