"""Configuration of Transformer++: the modern attention baseline retlab compares RetNet against.

This file is copied next to exported checkpoints (trust_remote_code), so it imports only transformers (through
its sibling configuration_native.py)."""

from .configuration_native import NativeConfig, choice_problems

POSITIONAL = ("rope", "none")


class TransformerConfig(NativeConfig):
    """Decoder-only Transformer++: RoPE, RMSNorm pre-norm, SwiGLU feed-forward, no biases.

    The fields every retlab architecture shares are in `NativeConfig`."""

    model_type = "retlab-transformer"

    intermediate_size: int = 688
    """SwiGLU hidden size (gate_proj/up_proj output)."""
    positional: str = "rope"
    """`rope` (rotary positions) or `none` (the original study's position-free Transformer)."""
    rope_theta: float = 10000.0
    """RoPE base."""

    def problems(self) -> list[str]:
        problems = choice_problems(("positional", self.positional, POSITIONAL)) + super().problems()
        if self.positional == "rope" and (self.hidden_size // self.num_heads) % 2:
            problems.append(f"RoPE needs an even head_dim, got {self.hidden_size // self.num_heads}")
        return problems

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads
