"""The `eval` and `generate` sections."""

import re
from dataclasses import dataclass, field

_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def _device_problems(device: str, key: str) -> list[tuple[str, str, str]]:
    if _DEVICE.fullmatch(device):
        return []
    return [(key, f"unknown device {device!r}", "use auto, cpu, cuda or cuda:N")]


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
    """Local task data in the layout of shared/data/eval (wikitext reads wikitext/wiki.test.raw there, else
    ../corpora/wikitext-2-raw/); unset: the harness's own Hub tasks (needs the Hub or its cache)."""
    stride: int | None = None
    """Sliding-window stride for test perplexity; windows are data.seq_len tokens (default stride: data.seq_len,
    i.e. consecutive chunks; smaller strides give every token at least seq_len - stride tokens of context)."""
    max_length: int | None = None
    """Longest input the harness feeds a model; longer contexts lose their oldest tokens (default: data.seq_len)."""
    device: str = "auto"
    """`auto` (cuda when available), `cpu`, `cuda` or `cuda:N`."""

    def problems(self) -> list[tuple[str, str, str]]:
        bad = _device_problems(self.device, "eval.device")
        if self.max_length is not None and self.max_length < 1:
            bad.append(("eval.max_length", f"must be > 0, got {self.max_length}", "use a positive value"))
        return bad


@dataclass
class GenerateConfig:
    """Text generation for `retlab generate`; sampling is seeded by the top-level `seed`."""

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
    device: str = "auto"
    """`auto` (cuda when available), `cpu`, `cuda` or `cuda:N`."""

    def problems(self) -> list[tuple[str, str, str]]:
        return _device_problems(self.device, "generate.device")
