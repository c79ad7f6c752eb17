"""Which models `retlab eval` and `retlab generate` use, and loading them with their tokenizer.

A model is given as a Hugging Face export directory (has config.json, e.g. runs/q/retnet/best), an
architecture folder of a run (runs/q/retnet -> its best/), or a run folder (runs/q -> every <arch>/best/)."""

from pathlib import Path

from ..errors import ConfigError
from ..layout import RunLayout
from ..models.factory import load_model  # noqa: F401  (evaluate and generate load models through here)
from ..preflight import check_export
from ..utils.device import resolve_device  # noqa: F401  (likewise)


def _is_export(path: Path) -> bool:
    return (path / "config.json").is_file()


def label_of(export: Path) -> str:
    """`retnet` for runs/q/retnet/best, `retnet/final` for .../final, else the folder name."""
    if export.name == "best":
        return export.parent.name
    if export.name == "final":
        return f"{export.parent.name}/final"
    return export.name


def expand(entry: str, field: str) -> list[Path]:
    """The export directories that `entry` (export, arch folder or run folder) stands for."""
    path = Path(entry).expanduser()
    if _is_export(path):
        return [path]
    if _is_export(path / "best"):
        return [path / "best"]
    runs = sorted(p / "best" for p in path.glob("*/") if _is_export(p / "best")) if path.is_dir() else []
    if runs:
        return runs
    raise ConfigError(
        field,
        f"'{entry}' is not an exported model (config.json), an architecture folder with best/, or a run folder",
        "give e.g. runs/quickstart/retnet/best or runs/quickstart",
    )


def run_models(cfg, field: str) -> dict[str, Path]:
    """{arch: runs/<name>/<arch>/best} for every architecture of cfg.compare; all must have been trained."""
    out = {}
    for arch in cfg.compare:
        best = RunLayout.of(cfg).arch(arch).best
        if not _is_export(best):
            raise ConfigError(
                field,
                f"no trained {arch} model at {best}",
                f"run `retlab train` or `retlab run` first, or set --{field}",
            )
        out[arch] = best
    return out


def resolve_models(entries: list[str], cfg, field: str = "eval.models") -> dict[str, Path]:
    """{label: export dir} for `entries`, or for the run's architectures when `entries` is empty; every export
    is checked to be loadable (whole safetensors, a config) before anything is loaded or written."""
    if not entries:
        models = run_models(cfg, field)
        for path in models.values():
            check_export(path, field)
        return models
    exports = [p for entry in entries for p in expand(entry, field)]
    for path in exports:
        check_export(path, field)
    labels = [label_of(p) for p in exports]
    if len(set(labels)) < len(labels):  # e.g. two runs' retnet: tell them apart by path
        labels = [str(p) for p in exports]
    return dict(zip(labels, exports, strict=True))


def load_tokenizer_for(path: str | Path, cfg):
    """The tokenizer saved with the model, else the run's tokenizer (for an MQAR run: the words of its ids, as
    exports carry since they have one), else None."""
    from transformers import AutoTokenizer

    for candidate in (Path(path), RunLayout.of(cfg).tokenizer):
        if (candidate / "tokenizer_config.json").is_file() or (candidate / "tokenizer.json").is_file():
            return AutoTokenizer.from_pretrained(str(candidate))
    if cfg.data.source == "mqar":
        from ..data.mqar import tokenizer

        return tokenizer(cfg.data.mqar.vocab_size)
    return None


def model_stamp(path: Path) -> list:
    """Cheap identity of an export for stage fingerprints: every file's name, size and modification time."""
    return sorted(
        [f.name, f.stat().st_size, f.stat().st_mtime_ns] for f in Path(path).iterdir() if f.is_file()
    )
