"""Where goship keeps what it can rebuild: ``${XDG_CACHE_HOME:-~/.cache}/goship``, outside every repository."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def cache_dir(*parts: str, environ: Mapping[str, str] | None = None) -> Path:
    """``${XDG_CACHE_HOME:-~/.cache}/goship/<parts…>`` (not created)."""
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base, "goship", *parts)
