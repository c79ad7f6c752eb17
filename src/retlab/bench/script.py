"""What the benchmark scripts share: the model-size, device and output options and the config they build."""

import argparse

import torch

from retlab.config import BenchConfig, ModelConfig, RetlabConfig


def script_parser(description: str) -> argparse.ArgumentParser:
    """A parser with the options every benchmark script takes; the script adds its own sweep options."""
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hidden-size", type=int, default=256)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--vocab-size", type=int, default=8192)
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    p.add_argument("--device", default="auto")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--output-dir", default="runs")
    p.add_argument("--name", default="bench")
    return p


def script_config(args: argparse.Namespace, compare: list[str], **bench) -> RetlabConfig:
    """Random-init bench config from the shared options; `bench` holds the script's own BenchConfig fields.
    Also applies --threads, as the config is built right before the benchmark runs."""
    if args.threads:
        torch.set_num_threads(args.threads)
    # Built directly (not through the YAML loader) so that the script runs where only torch and transformers are
    # installed, e.g. a bare GPU machine.
    return RetlabConfig(
        name=args.name,
        output_dir=args.output_dir,
        compare=compare,
        model=ModelConfig(hidden_size=args.hidden_size, num_hidden_layers=args.layers, num_heads=args.heads),
        bench=BenchConfig(
            use_trained=False,
            vocab_size=args.vocab_size,
            device=args.device,
            dtype=args.dtype,
            **bench,
        ),
    )
