"""Benchmarks as cached stages, like the others: a result stands until what it measured changes, the settings,
the models, the code or the machine, and only `--force` re-measures it otherwise. A cached call rewrites nothing, so
re-running a finished `retlab run` cannot replace good figures with ones measured under a burst of load."""

import datetime
import hashlib
from collections.abc import Callable
from pathlib import Path

from ..layout import RunLayout
from ..report.format import flops
from ..utils.files import atomic_write_json, atomic_write_text, read_json
from ..utils.stage import fingerprint, is_up_to_date, mark_done

VERSION = 2  # of the result format: a new format re-measures


def bench_stage(
    cfg, kind: str, settings: dict, models: list, force: bool, measure: Callable, tables: bool = True
) -> dict:
    """`bench/<kind>.json`: the stored result when it is up to date, else `measure(device, peak)` (a dict of the
    kind's own entries) framed by what every result records: the machine, when, the load on it, the peak FLOP/s MFU
    is measured against, the settings (the kind's own and the shared ones) and the models. Its tables are written
    to `bench/<kind>.txt` and printed, or with `tables=False` (inside `retlab run`) summed up in one line; plots
    drawn (for a stored result only those missing)."""
    from ..utils.device import use_threads
    from .flops import device_peak
    from .machine import load_average, machine_description
    from .models import bench_device, bench_dtype

    use_threads(cfg.num_threads)  # part of the machine description, hence of the fingerprint
    device, dtype, b = bench_device(cfg), bench_dtype(cfg), cfg.bench
    settings = settings | {"dtype": b.dtype, "gemm_size": b.gemm_size, "memory_limit_gib": b.memory_limit_gib}
    out_dir = RunLayout.of(cfg).bench
    machine = machine_description(device)
    fp = bench_fingerprint(kind, settings, models, machine)
    if (cached := cached_result(out_dir, kind, fp, force)) is not None:
        print(
            f"bench {kind}: up to date ({out_dir / f'{kind}.json'}, measured {cached.get('measured_at')} on "
            f"{cached.get('device')}); --force re-measures"
        )
        return show(cached, out_dir, only_missing=True, tables=tables)
    started, load_start = utc_now(), load_average()
    peak = device_peak(device, dtype, b.gemm_size)
    if tables:
        tflops = "unknown" if peak["tflops"] is None else flops(peak["tflops"] * 1e12)
        print(f"bench {kind}: peak for MFU {tflops} ({peak['source']})", flush=True)
    measured = measure(device, peak)
    result = {
        "kind": kind,
        "format": f"retlab bench {kind} v{VERSION}",
        "device": machine["device"],
        "dtype": b.dtype,
        "machine": machine,
        "measured_at": started,
        "load_average": {"start": load_start, "end": load_average()},
        "peak": peak,
        "settings": settings,
        "models": [model_summary(m) for m in models],
        **measured,
    }
    atomic_write_json(out_dir / f"{kind}.json", result)
    mark_measured(out_dir, kind, fp)
    return show(result, out_dir, only_missing=False, tables=tables)


def show(result: dict, out_dir: Path, only_missing: bool, tables: bool = True) -> dict:
    """Write a result's tables and notes to `<kind>.txt` (a stored result's only when missing), print them or
    (`tables=False`) its one-line summary, and draw its plots; returns it with the plots' paths."""
    from .plots import bench_plots
    from .table import result_line, result_tables

    result = dict(result)
    result["plots"] = [str(p) for p in bench_plots(result, out_dir, only_missing=only_missing)]
    text = result_tables(result) + "".join(f"\nnote: {note}" for note in result.get("notes", []))
    path = Path(out_dir) / f"{result['kind']}.txt"
    if not (only_missing and path.is_file()):
        atomic_write_text(path, text + "\n")
    print(text if tables else result_line(result))
    return result


def utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def model_summary(bench_model) -> dict:
    from ..models.sizing import count_parameters
    from ..models.specs import spec_of

    c, spec = bench_model.config, spec_of(bench_model.arch)  # an `hf:` type names the fields its own way
    fields = ("hidden_size", "num_hidden_layers", "num_heads", "intermediate_size", "value_dim", "vocab_size")
    return {"arch": bench_model.arch, "source": bench_model.source, "params": count_parameters(c)} | {
        name: spec.read(c, name) for name in fields
    }


def code_digest() -> str:
    """A hash of the sources a figure depends on: the benchmarks themselves and the models they time."""
    root = Path(__file__).resolve().parents[1]  # src/retlab
    h = hashlib.sha256()
    for folder in ("bench", "models"):
        for f in sorted((root / folder).rglob("*.py")):
            h.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


def bench_fingerprint(kind: str, settings: dict, models: list, machine: dict) -> str:
    """The identity of a measurement: its kind and settings, each model's config and source, the code, the machine."""
    identities = [
        {"arch": m.arch, "source": m.source, "config": m.config.to_json_string(use_diff=False)}
        for m in models
    ]
    return fingerprint("bench", kind, VERSION, settings, identities, machine, code_digest())


def stamp_name(kind: str) -> str:
    return f".{kind}.stage.json"


def cached_result(out_dir: Path, kind: str, fp: str, force: bool) -> dict | None:
    """The stored `<kind>.json` when it was measured with fingerprint `fp` (and not `force`), else None."""
    path = Path(out_dir) / f"{kind}.json"
    if force or not path.is_file() or not is_up_to_date(out_dir, fp, stamp_name(kind)):
        return None
    try:
        return read_json(path)
    except (OSError, ValueError):
        return None


def mark_measured(out_dir: Path, kind: str, fp: str) -> None:
    mark_done(out_dir, fp, stamp_name(kind))
