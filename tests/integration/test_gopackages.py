"""goship.gopackages finds the packages ``go list ./...`` finds: the real go command is the oracle, on a
module full of the cases go/build treats specially, for several targets."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from goship import gopackages
from goship.gopackages import Target

FILES = {
    "main.go": "package main\n\nfunc main() {}\n",
    "cmd/orders/main.go": "// Orders serves orders.\npackage main\n\nfunc main() {}\n",
    "cmd/orders/main_test.go": "package main\n",
    "cmd/testonly/x_test.go": "package main\n",
    "cmd/doc-tag/main.go": "//go:build ignore\npackage main\n\nfunc main() {}\n",
    "cmd/after-slash-star/main.go": "/* licence */\n//go:build windows\n\npackage main\n\nfunc main() {}\n",
    "cmd/in-slash-star/main.go": "/*\n//go:build ignore\n*/\n\npackage main\n\nfunc main() {}\n",
    "cmd/plus-doc/main.go": "// +build ignore\npackage main\n\nfunc main() {}\n",
    "cmd/plus-blank/main.go": "// +build ignore\n\npackage main\n\nfunc main() {}\n",
    "cmd/plus-or/main.go": "// +build darwin,arm64 linux,!arm64\n\npackage main\n\nfunc main() {}\n",
    "cmd/expr/main.go": "//go:build (linux || darwin) && !(arm64 && darwin) && go1.18 && !go1.999 && gc\n\npackage main\n\nfunc main() {}\n",
    "cmd/unix/main.go": "//go:build unix\n\npackage main\n\nfunc main() {}\n",
    "cmd/cgo-only/main.go": 'package main\n\nimport "C"\n\nfunc main() {}\n',
    "cmd/cgo-tag/main.go": "//go:build cgo\n\npackage main\n\nfunc main() {}\n",
    "cmd/by-name/main_windows.go": "package main\n\nfunc main() {}\n",
    "cmd/by-name2/main_linux_arm64.go": "package main\n\nfunc main() {}\n",
    "cmd/by-name3/main_amd64.go": "package main\n\nfunc main() {}\n",
    "cmd/linux.go/keep": "",
    "cmd/first-part/linux.go": "package main\n\nfunc main() {}\n",
    "cmd/mixed/lib.go": "package mixed\n",
    "cmd/mixed/gen.go": "//go:build ignore\n\npackage main\n\nfunc main() {}\n",
    "cmd/underscore/_main.go": "package main\n",
    "lib/lib.go": "package lib\n",
    "testdata/main.go": "package main\n",
    "vendor/x/main.go": "package main\n",
    "deep/vendor/main.go": "package main\n",
    "_skip/main.go": "package main\n",
    ".hidden/main.go": "package main\n",
    "nested/go.mod": "module example.com/nested\n\ngo 1.22\n",
    "nested/main.go": "package main\n\nfunc main() {}\n",
}

TARGETS = [
    ("linux", "amd64"),
    ("linux", "arm64"),
    ("darwin", "arm64"),
    ("windows", "amd64"),
    ("android", "arm64"),
]


@pytest.fixture(scope="module")
def module(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("gopackages")
    (root / "go.mod").write_text("module example.com/m\n\ngo 1.22\n")
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    (root / "cmd" / "link").symlink_to(root / "cmd" / "orders")
    return root


def go_list(root: Path, goos: str, goarch: str, cgo: bool) -> list[tuple[str, str]]:
    env = {**os.environ, "GOOS": goos, "GOARCH": goarch, "CGO_ENABLED": "1" if cgo else "0"}
    env["GOTOOLCHAIN"] = "local"
    done = subprocess.run(
        ["go", "list", "-e", "-json=Dir,Name,GoFiles", "./..."],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    decoder, text, found = json.JSONDecoder(), done.stdout, []
    at = 0
    while at < len(text.strip()):
        pkg, at = decoder.raw_decode(text, at)
        at += len(text[at:]) - len(text[at:].lstrip())
        if pkg.get("GoFiles"):
            found.append((Path(pkg["Dir"]).relative_to(root).as_posix(), pkg["Name"]))
    return sorted(found)


@pytest.mark.parametrize(("goos", "goarch"), TARGETS)
@pytest.mark.parametrize("cgo", [False, True])
def test_the_packages_with_go_files_are_the_ones_go_list_finds(
    module: Path, goos: str, goarch: str, cgo: bool
) -> None:
    target = Target(goos=goos, goarch=goarch, go_minor=gopackages.host_target().go_minor, cgo=cgo)
    ours = [(p.rel, p.name) for p in gopackages.packages(module, target)]
    assert ours == go_list(module, goos, goarch, cgo)


def test_the_host_target_knows_the_toolchain_release() -> None:
    version = subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True, check=True).stdout
    target = gopackages.host_target()
    assert target.go_minor is not None and version.startswith(f"go1.{target.go_minor}")
    assert (
        target.has("unix")
        and target.has(f"go1.{target.go_minor}")
        and not target.has(f"go1.{target.go_minor + 1}")
    )
