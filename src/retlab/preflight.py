"""Checks run before a command writes anything, so a bad input costs nothing: the Trainer arguments as Lightning
itself checks them, the models the config describes (`hf:` ones built and run on the meta device), and the files a
command will read (Lightning checkpoints, Hugging Face exports). Each failure is one ConfigError that names the
field or file and the fix. Corpus files are checked beside the data stages
(`retlab.data.preflight`); config files where they are read (`retlab.config.loader.read_yaml`)."""

import contextlib
import json
import logging
import os
import tempfile
import warnings
import zipfile
from pathlib import Path

from .errors import ConfigError, first_line

# The Trainer arguments retlab passes straight from the `train` section, in the order Lightning resolves them.
TRAINER_FIELDS = (
    "accelerator",
    "devices",
    "num_nodes",
    "strategy",
    "precision",
    "accumulate_grad_batches",
    "limit_val_batches",
    "log_every_n_steps",
)
_TRAINER_FIXES = {
    "accelerator": "use cpu, or auto (a GPU when there is one)",
    "devices": "use a device count such as 1, or auto",
    "num_nodes": "use 1 unless you launch on several machines",
    "strategy": "use auto (ddp and fsdp need several devices; fsdp needs GPUs)",
    "precision": "use 32-true (or bf16-mixed)",
    "accumulate_grad_batches": "use a positive whole number",
    "limit_val_batches": "use a fraction in (0, 1] or a whole number of batches",
    "log_every_n_steps": "use a positive whole number",
}


@contextlib.contextmanager
def _quiet_lightning():
    """Silence the device banner and warnings a throwaway Trainer prints (the real one prints them later)."""
    loggers = [logging.getLogger(n) for n in ("lightning.pytorch", "lightning.fabric", "pytorch_lightning")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _dry_trainer(t, fields: tuple[str, ...]):
    """A Trainer built from `fields` of the train section alone: it runs Lightning's own resolution of
    accelerator, devices, strategy and precision, and writes nothing (no logger, no checkpoints)."""
    import lightning as L

    with _quiet_lightning():
        return L.Trainer(
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            **{f: getattr(t, f) for f in fields},
        )


def check_trainer(t) -> int:
    """Reject, now, every `train` value Lightning would only reject when the Trainer is built; returns the number
    of processes the Trainer will run (devices x nodes, as Lightning resolves them). When Lightning refuses, the
    field named is the first one whose addition makes it refuse."""
    if str(t.precision) in ("16", "16-mixed"):  # Lightning takes 16 for 16-mixed
        import torch

        if not torch.cuda.is_available():
            raise ConfigError(
                "train.precision", "16-mixed needs a CUDA GPU", "use 32-true or bf16-mixed on CPU"
            )
    try:
        return _dry_trainer(t, TRAINER_FIELDS).world_size
    except Exception as error:  # noqa: BLE001 - whatever Lightning raises, it is reported as one line below
        failure = error
    field = TRAINER_FIELDS[-1]
    for i, name in enumerate(TRAINER_FIELDS):
        try:
            _dry_trainer(t, TRAINER_FIELDS[: i + 1])
        except Exception as error:  # noqa: BLE001
            field, failure = name, error
            break
    value = getattr(t, field)
    if field == "precision" and str(value) not in lightning_precisions():
        raise ConfigError(
            "train.precision",
            f"Lightning does not know {value!r}",
            "use one of " + ", ".join(lightning_precisions()),
        ) from None
    raise ConfigError(
        f"train.{field}", f"Lightning rejects {value!r}: {_short(failure)}", _TRAINER_FIXES[field]
    ) from None


def lightning_precisions() -> list[str]:
    """Every precision value Lightning's Trainer accepts, as Lightning itself lists them."""
    import typing

    from lightning.fabric.connector import _PRECISION_INPUT

    def flatten(tp) -> list:
        args = typing.get_args(tp)
        return [v for a in args for v in flatten(a)] if args else [tp]

    return list(dict.fromkeys(str(v) for v in flatten(_PRECISION_INPUT)))


def check_output_dir(cfg) -> None:
    """The run folder can be created and written: its nearest existing ancestor is a writable directory."""
    from .layout import RunLayout

    path = RunLayout.of(cfg).root.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    if not path.is_dir():
        raise ConfigError(
            "output_dir",
            f"'{path}' is a file, so the run folder cannot be made there",
            "use another output_dir",
        )
    try:  # the one reliable test of writability: make (and at once remove) an empty folder there
        os.rmdir(tempfile.mkdtemp(dir=path, prefix=".retlab-write-test."))
    except OSError as e:
        raise ConfigError(
            "output_dir",
            f"cannot write to '{path}': {e.strerror or first_line(e)}",
            "use a folder you can write to",
        ) from None


def check_memory(what: str, field: str, needed_bytes: float, fix: str) -> None:
    """Refuse work that cannot fit in this machine's memory at all (rather than dying midway)."""
    import psutil

    total = psutil.virtual_memory().total
    if needed_bytes > total:
        raise ConfigError(
            field,
            f"{what} needs about {needed_bytes / 2**30:,.1f} GiB, this machine has {total / 2**30:,.1f} GiB",
            fix,
        )


def _short(error: BaseException, limit: int = 160) -> str:
    text = first_line(error)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------- models


def check_models(cfg, archs: list[str], shape=None) -> None:
    """The models of `archs` can be made from this config: their configs as `contender_configs` makes them
    (matched to `compare[0]`, at `shape`, by default the one `prepare` will give), and every `hf:` one built on
    the meta device (no memory, no weights) and run on two tokens, before matching and after. The native
    models' sections check themselves; an `hf:` type takes any value through `model.hf_overrides`, which
    transformers may reject only when the model is built or run (a negative size, an unknown activation, heads
    that do not divide)."""
    from .data.stages import planned_shape
    from .models.factory import build_config, contender_configs
    from .models.specs import spec_of

    shape = shape or planned_shape(cfg)
    hf_archs = [a for a in dict.fromkeys([cfg.compare[0], *archs]) if spec_of(a).is_hf]
    with _quiet_transformers():
        for arch in hf_archs:  # unmatched first: matching counts parameters, so it builds the model itself
            _run_on_meta(spec_of(arch), build_config(cfg.model, arch, shape), cfg.model)
        configs = contender_configs(cfg.model, cfg.compare, shape, archs)
        for arch in hf_archs:
            if arch in configs:
                _run_on_meta(spec_of(arch), configs[arch], cfg.model)


# Up to this many parameters (512 MiB in float32), a forward that fails on the meta device is tried again on real
# tensors: some meta kernels check more than the CPU ones (dtypes of grouped matmuls) or cannot read values.
CONFIRM_ON_CPU_PARAMETERS = 2**27


def _run_on_meta(spec, config, model) -> None:
    """Build `config`'s model on the meta device and run it on two tokens. Building on meta is what building
    does; where the meta forward fails, a small model confirms it on the CPU (a large one is left to the real
    run)."""
    import torch

    ids = torch.zeros(1, 2, dtype=torch.long)
    try:
        with torch.device("meta"):
            lm = spec.classes()[1](config)
        try:
            with torch.device("meta"), torch.no_grad():
                lm(input_ids=ids.to("meta"))
        except Exception:  # noqa: BLE001 - confirmed (or not) on real tensors below
            if sum(p.numel() for p in lm.parameters()) <= CONFIRM_ON_CPU_PARAMETERS:
                with torch.no_grad():
                    spec.classes()[1](config)(input_ids=ids)
    except Exception as error:  # noqa: BLE001 - whatever transformers raises, it is reported as one line
        overrides, own = f"model.hf_overrides.{spec.model_type}", f"transformers' {spec.model_type} config"
        given = bool(model.hf_overrides.get(spec.model_type))
        raise ConfigError(
            overrides if given else f"model ({spec.name})",
            f"transformers cannot build or run {spec.name} from this config: {_short(error)}",
            f"fix that value (see {own})" if given else f"set its own fields in {overrides} (see {own})",
        ) from None


@contextlib.contextmanager
def _quiet_transformers():
    """Silence what transformers says while building throwaway models (kernel fallbacks, token id notes)."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        hf_logging.set_verbosity(level)


# ---------------------------------------------------------------- files to be read

_RETRY = "give another checkpoint, or use --force to retrain from scratch"


def check_checkpoint(path: str | Path, field: str = "train.resume") -> dict:
    """The Lightning checkpoint at `path`, loaded as resume will load it: `weights_only=True` (tensors and plain
    data; a file that needs pickled code is refused, not run) and memory-mapped (tensors are not read). Anything
    unreadable or not a Lightning training checkpoint is one ConfigError naming the file."""
    import torch

    p = Path(path)
    if p.is_dir():
        raise ConfigError(field, f"'{path}' is a directory, not a checkpoint file", _RETRY)
    if not p.is_file():
        raise ConfigError(field, f"checkpoint '{path}' not found", "use `auto` or a .ckpt path")
    if not zipfile.is_zipfile(p):  # what torch.save writes; a truncated file loses its central directory
        raise ConfigError(
            field, f"'{path}' is not a readable checkpoint (truncated, corrupt or not one)", _RETRY
        )
    try:
        ckpt = torch.load(p, map_location="cpu", weights_only=True, mmap=True)
    except Exception as e:  # noqa: BLE001 - truncated, corrupt or pickled-code files all end here
        problem = _short(e)
        if "weights_only" in str(e) or "Unsupported global" in str(e):
            problem = "it holds pickled Python objects, which retlab does not load (they could run code)"
        raise ConfigError(field, f"'{path}' is not a readable checkpoint: {problem}", _RETRY) from None
    missing = [
        k for k in ("state_dict", "loops", "global_step") if not isinstance(ckpt, dict) or k not in ckpt
    ]
    if missing:
        raise ConfigError(
            field, f"'{path}' is not a Lightning training checkpoint (no {', '.join(missing)})", _RETRY
        )
    return ckpt


def check_export(path: str | Path, field: str) -> None:
    """A Hugging Face export retlab can load: config.json is a JSON object with a model_type, and the weights are
    safetensors files (never pickles) whose headers are whole and cover the file."""
    from safetensors import safe_open

    p = Path(path)
    fix = "point to another export, or retrain it (`retlab train --force`)"
    try:
        config = json.loads((p / "config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ConfigError(field, f"'{p / 'config.json'}' is unreadable: {_short(e)}", fix) from None
    if not isinstance(config, dict) or not isinstance(config.get("model_type"), str):
        raise ConfigError(field, f"'{p / 'config.json'}' has no model_type", fix)
    index = p / "model.safetensors.index.json"
    if index.is_file():
        try:
            shards = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise ConfigError(field, f"'{index}' is unreadable: {_short(e)}", fix) from None
    elif (p / "model.safetensors").is_file():
        shards = ["model.safetensors"]
    else:
        pickled = any((p / n).is_file() for n in ("pytorch_model.bin", "model.bin"))
        problem = (
            "has only pickled weights (pytorch_model.bin), which retlab does not load" if pickled else ""
        )
        raise ConfigError(field, f"'{p}' {problem or 'has no model.safetensors'}", fix)
    for shard in shards:
        try:
            with safe_open(str(p / shard), framework="pt") as f:
                f.keys()
        except Exception as e:  # noqa: BLE001 - SafetensorError, OSError: the file is not whole
            raise ConfigError(
                field, f"'{p / shard}' is not a readable safetensors file: {_short(e)}", fix
            ) from None
