"""Start-up time of the `retlab` command line: whole processes, as a user waits for them.

Each contender is one command run in a fresh interpreter (`python -m retlab ...`, the same code as the `retlab`
script); rounds interleave the contenders (retlab.bench.timer). Targets on 2 cores: `--help` <= 1 s, a command's
`--help` and `--print_config` <= 2 s. Prints a table of median [IQR] seconds, then one JSON line.

    .venv/bin/python benchmarks/bench_startup.py [--rounds 7] [--config configs/quickstart.yaml]
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from retlab.bench.timer import summarize, time_rounds

REPO = Path(__file__).resolve().parents[1]
TARGET_S = {"help": 1.0, "train_help": 2.0, "generate_help": 2.0, "print_config": 2.0}


def commands(config: str) -> dict[str, list[str]]:
    return {
        "help": ["--help"],
        "train_help": ["train", "--help"],
        "generate_help": ["generate", "--help"],
        "print_config": ["run", "--config", config, "--print_config"],
    }


def runner(args: list[str]):
    def call():
        subprocess.run([sys.executable, "-m", "retlab", *args], cwd=REPO, check=True, capture_output=True)

    return call


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--config", default="configs/quickstart.yaml")
    opts = parser.parse_args(argv)
    cmds = commands(opts.config)
    times = time_rounds({name: runner(args) for name, args in cmds.items()}, opts.rounds, warmup=1)
    result = {"cpu_count": os.cpu_count(), "rounds": opts.rounds, "load_1min": os.getloadavg()[0]}
    print(f"{'command':<44} {'median s':>9} {'IQR s':>13} {'target s':>9}")
    for name, args in cmds.items():
        s = summarize(times[name])
        print(
            f"retlab {' '.join(args):<37} {s['median']:>9.2f} {s['q1']:>6.2f}-{s['q3']:<6.2f} {TARGET_S[name]:>9.1f}"
        )
        result[f"{name}_s"] = {k: round(s[k], 3) for k in ("median", "q1", "q3", "iqr")}
    result["within_targets"] = all(result[f"{n}_s"]["median"] <= t for n, t in TARGET_S.items())
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
