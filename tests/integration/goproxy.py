"""A real Go module proxy on disk (GOPROXY=file://…, the go command's own protocol), holding small test
modules at several versions, so that dependency tests run offline against the real go command."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

# module path -> versions it is published at; each module is one package with one function.
MODULES: dict[str, list[str]] = {
    "example.com/lib": ["v1.0.0", "v1.0.1", "v1.1.0", "v1.1.1-0.20240101000000-abcdefabcdef"],
    "example.com/lib/v2": ["v2.0.0"],
    "example.com/util": ["v0.1.0", "v0.2.0"],
}
_STAMP = (2024, 1, 1, 0, 0, 0)


def build_proxy(root: Path) -> Path:
    """Write the proxy tree under ``root``; returns ``root`` (use ``root.as_uri()`` as GOPROXY)."""
    for path, versions in MODULES.items():
        base = root / path / "@v"
        base.mkdir(parents=True, exist_ok=True)
        releases = [v for v in versions if "-0." not in v]
        (base / "list").write_text("".join(f"{v}\n" for v in releases))
        for version in versions:
            gomod = f"module {path}\n\ngo 1.21\n"
            (base / f"{version}.mod").write_text(gomod)
            (base / f"{version}.info").write_text(
                json.dumps({"Version": version, "Time": "2024-01-01T00:00:00Z"})
            )
            package = path.rsplit("/", 1)[-1] if not path.endswith("/v2") else "lib"
            source = f'package {package}\n\n// Version is the release this copy came from.\nfunc Version() string {{ return "{version}" }}\n'
            with zipfile.ZipFile(base / f"{version}.zip", "w") as z:
                for name, text in (("go.mod", gomod), (f"{package}.go", source)):
                    info = zipfile.ZipInfo(f"{path}@{version}/{name}", date_time=_STAMP)
                    z.writestr(info, text)
    return root


def go_env(proxy: Path, modcache: Path) -> dict[str, str]:
    """Environment for the go command: only the disk proxy, no checksum database, a private cache."""
    return {
        "GOPROXY": proxy.as_uri(),
        "GOSUMDB": "off",
        "GONOSUMDB": "example.com",
        "GOMODCACHE": str(modcache),
        "GOFLAGS": "-modcacherw",
        "GOTOOLCHAIN": "local",
    }
