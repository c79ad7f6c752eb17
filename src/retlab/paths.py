"""Where files are: the one data-root setting, and how a path written in a config or on the command line is read.

- `RETLAB_DATA_DIR` (default `../shared/data` next to the repository) is where the staged public corpora and eval
  data live. Tests, benchmarks and the command line all read it through `data_dir()`; a path field written as
  `$RETLAB_DATA_DIR/corpora/...` (or `${RETLAB_DATA_DIR}/...`) starts there.
- A relative path to an input (a corpus, task data, a model) inside a config file is relative to that file's
  folder (as LightningCLI's path types), so a config runs from any working directory; a path given on the
  command line is relative to the current directory, and so is `output_dir` wherever it is written (as
  Lightning's default_root_dir). A field that may hold a name (a Hub id, `auto`) is read as a path only when
  something exists there.
The config sections mark their path fields (`config.schema.path_field`); `config.loader` applies these rules."""

import glob
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_ROOT_VAR = "RETLAB_DATA_DIR"


def data_dir() -> Path:
    """The directory with the staged public corpora and eval data (see its MANIFEST.md)."""
    env = os.environ.get(DATA_ROOT_VAR)
    return Path(env).expanduser().resolve() if env else (REPO_ROOT.parent / "shared" / "data").resolve()


def expand(value: str) -> str:
    """`$RETLAB_DATA_DIR/...` (or `${RETLAB_DATA_DIR}/...`) under the data root, `~` under the home folder."""
    for var in (f"${{{DATA_ROOT_VAR}}}", f"${DATA_ROOT_VAR}"):
        if value == var or value.startswith(var + "/"):
            return str(data_dir()) + value[len(var) :]
    return os.path.expanduser(value)


def is_location(value: str) -> bool:
    """A URL or absolute path: nothing to resolve."""
    return "://" in value or os.path.isabs(value)


def resolve_in(value: str, folder: Path, kind: str = "input") -> str:
    """`value` of a path field of `kind` (input, name, output) as written in a config file in `folder`: expanded,
    and an input's relative path joined to `folder` (a name's only when something exists there)."""
    value = expand(value)
    if is_location(value) or kind == "output":
        return value
    joined = os.path.normpath(folder / value)
    if kind == "name" and not glob.glob(joined):
        return value
    return joined


def absolute(value: str, kind: str = "input") -> str:
    """`value` made absolute against the current directory (for a config that is saved and read again from
    elsewhere); a name is left alone unless something exists there."""
    value = expand(value)
    if is_location(value) or (kind == "name" and not glob.glob(value)):
        return value
    return os.path.abspath(value)
