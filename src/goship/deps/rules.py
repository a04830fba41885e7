"""The rules of ``goship deps check``: each reads one module's go.mod (or asks the Go toolchain) and
returns findings located at the file and line they concern."""

from __future__ import annotations

import difflib
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from goship import semver
from goship.config import DepsConfig
from goship.deps import vendor as vendoring
from goship.errors import UsageError
from goship.gotool import Go
from goship.modfile import ModFile, is_directory_path
from goship.modules import Module


@dataclass(frozen=True)
class Finding:
    """One rule that fired for one module."""

    rule: str
    level: Literal["error", "warn"]
    module: str
    """The path of the module of the repository that was checked."""
    file: str
    """The file the finding is about, relative to the repository root."""
    line: int | None
    message: str
    hint: str | None = None
    detail: str | None = None
    """More text, e.g. the diff tidy would apply."""
    subject: str | None = None
    """The dependency the finding is about, when it is about one (matched by allowlists)."""

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True)
class RuleContext:
    module: Module
    top: Path
    mod: ModFile
    config: DepsConfig
    go: Go

    @property
    def dir(self) -> Path:
        return self.top if self.module.dir == "." else self.top / self.module.dir

    @property
    def in_dir(self) -> str:
        """`` in services/orders`` for a hint, nothing for the root module."""
        return "" if self.module.dir == "." else f" in {self.module.dir}"

    def rel(self, name: str) -> str:
        return name if self.module.dir == "." else f"{self.module.dir}/{name}"

    def finding(self, rule: str, message: str, **kw: object) -> Finding:
        return Finding(rule=rule, level="error", module=self.module.path, message=message, **kw)  # type: ignore[arg-type]


# -- static rules ---------------------------------------------------------------------------------


def _local_replace(ctx: RuleContext) -> list[Finding]:
    out = []
    for r in ctx.mod.replace:
        if not is_directory_path(r.new_path):
            continue
        left = f"{r.old_path} {r.old_version}".strip()
        out.append(
            ctx.finding(
                "local_replace",
                f"replace {left} => {r.new_path}: a released module must not point at a local directory "
                "(its users get the required version, not your directory)",
                file=ctx.rel("go.mod"),
                line=r.line,
                subject=r.old_path,
                hint=f"require a released version of {r.old_path}, or move the replace to go.work "
                f"('go work use {r.new_path}') for local development",
            )
        )
    return out


def _pinned(ctx: RuleContext) -> list[Finding]:
    out = []
    for r in ctx.mod.require:
        if semver.is_pseudo_version(r.version):
            out.append(
                ctx.finding(
                    "pinned",
                    f"require {r.path} {r.version}: a pseudo-version pins a commit, not a release",
                    file=ctx.rel("go.mod"),
                    line=r.line,
                    subject=r.path,
                    hint=f"require a tagged release ('go get {r.path}@latest'), or allowlist it in "
                    "deps.rules.pinned.allow if it has none",
                )
            )
    return out


def _exclude(ctx: RuleContext) -> list[Finding]:
    return [
        ctx.finding(
            "exclude",
            f"exclude {e.path} {e.version}: silently changes which version the build selects",
            file=ctx.rel("go.mod"),
            line=e.line,
            subject=e.path,
            hint="require the version you want instead, or allowlist it in deps.rules.exclude.allow",
        )
        for e in ctx.mod.exclude
    ]


def _go_version(ctx: RuleContext) -> list[Finding]:
    want = ctx.config.min_go
    if want is None:
        return []
    have = ctx.mod.go.version if ctx.mod.go else None
    if have is not None and _go_tuple(have) >= _go_tuple(want):
        return []
    found = f"go {have}" if have else "no go directive (Go assumes 1.16)"
    return [
        ctx.finding(
            "go_version",
            f"expected a go directive of at least {want} (found {found})",
            file=ctx.rel("go.mod"),
            line=(ctx.mod.go.line if ctx.mod.go else None),
            hint=f"run 'go mod edit -go={want}'{ctx.in_dir} and then 'go mod tidy'",
        )
    ]


def _toolchain(ctx: RuleContext) -> list[Finding]:
    if not ctx.config.require_toolchain or ctx.mod.toolchain:
        return []
    return [
        ctx.finding(
            "toolchain",
            "expected a toolchain directive pinning the Go release (deps.require_toolchain is true)",
            file=ctx.rel("go.mod"),
            line=(ctx.mod.go.line if ctx.mod.go else None),
            hint=f"run 'go mod edit -toolchain=go{_toolchain_hint(ctx)}'{ctx.in_dir}",
        )
    ]


def _toolchain_hint(ctx: RuleContext) -> str:
    version = ctx.go.version().removeprefix("go")
    return version or "1.N.P"


def _vendor(ctx: RuleContext) -> list[Finding]:
    modules_txt = ctx.dir / "vendor" / "modules.txt"
    if not (ctx.dir / "vendor").is_dir():
        return []
    rel = ctx.rel("vendor/modules.txt")
    if not modules_txt.is_file():
        return [
            ctx.finding(
                "vendor",
                "vendor/ exists but has no modules.txt",
                file=rel,
                line=None,
                hint="run 'go mod vendor' (or delete vendor/ if you do not vendor)",
            )
        ]
    listing = vendoring.parse(modules_txt.read_text(encoding="utf-8"), file=rel)
    requires = [vendoring.Requirement(r.path, r.version, r.line) for r in ctx.mod.require]
    replaces = [
        vendoring.Replacement(r.old_path, r.old_version, r.new_path, r.new_version, r.line)
        for r in ctx.mod.replace
    ]
    return [
        ctx.finding(
            "vendor",
            f.message,
            file=rel,
            line=f.vendor_line or None,
            subject=f.path,
            hint=f.hint,
        )
        for f in vendoring.check_consistency(
            requires,
            replaces,
            listing,
            go_version=ctx.mod.go.version if ctx.mod.go else "",
            main_module=ctx.module.path,
            go_mod_file=ctx.rel("go.mod"),
        )
    ]


# -- rules that ask the Go toolchain ----------------------------------------------------------------


def _tidy(ctx: RuleContext) -> list[Finding]:
    done = ctx.go.run("mod", "tidy", "-diff", check=False, cwd=ctx.dir)
    if done.ok:
        return []
    if not done.stdout.strip():
        return [_could_not_run(ctx, "tidy", "go mod tidy -diff", done.stderr)]
    changed = sum(
        1 for line in done.stdout.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")
    )
    return [
        ctx.finding(
            "tidy",
            f"go.mod/go.sum are not tidy: 'go mod tidy' would change {changed} line{'s' if changed != 1 else ''}",
            file=ctx.rel("go.mod"),
            line=None,
            hint=f"run 'go mod tidy'{ctx.in_dir} and commit go.mod and go.sum",
            detail=done.stdout.rstrip(),
        )
    ]


def _verify(ctx: RuleContext) -> list[Finding]:
    done = ctx.go.run("mod", "verify", check=False, cwd=ctx.dir)
    if done.ok:
        return []
    out = []
    for line in (done.stdout + done.stderr).splitlines():
        mod, sep, problem = line.partition(": ")
        parts = mod.split()
        if sep and len(parts) == 2 and semver.is_valid(parts[1]):
            out.append(
                ctx.finding(
                    "verify",
                    f"{mod}: {problem}",
                    file=ctx.rel("go.sum"),
                    line=None,
                    subject=parts[0],
                    hint="the module cache or go.sum was altered: 'go clean -modcache' and download again, "
                    "and check where the go.sum line came from",
                )
            )
    return out or [_could_not_run(ctx, "verify", "go mod verify", done.stdout + done.stderr)]


def _sum_complete(ctx: RuleContext) -> list[Finding]:
    """Ask Go which go.sum lines the build needs, on a scratch copy, and report the ones missing."""
    sum_path = ctx.dir / "go.sum"
    have = sum_path.read_text(encoding="utf-8") if sum_path.is_file() else ""
    with tempfile.TemporaryDirectory(prefix="goship-sum-") as scratch:
        modfile = Path(scratch) / "go.mod"
        shutil.copyfile(ctx.dir / "go.mod", modfile)
        (Path(scratch) / "go.sum").write_text(have, encoding="utf-8")
        flags = [f"-modfile={modfile}", "-mod=mod", "-e"]
        for args in (["-deps", "-test", "-f", "{{.ImportPath}}", "./..."], ["-m", "all"]):
            done = ctx.go.run("list", *flags, *args, check=False, cwd=ctx.dir)
            if not done.ok:
                return [_could_not_run(ctx, "sum_complete", "go list", done.stderr)]
        wanted = (Path(scratch) / "go.sum").read_text(encoding="utf-8")
    present = {line.strip() for line in have.splitlines()}
    missing = [line.strip() for line in wanted.splitlines() if line.strip() and line.strip() not in present]
    lines = {r.path: r.line for r in ctx.mod.require}
    out = []
    for entry in missing:
        path, version = entry.split()[:2]
        kind = "go.mod hash" if version.endswith("/go.mod") else "module hash"
        version = version.removesuffix("/go.mod")
        out.append(
            ctx.finding(
                "sum_complete",
                f"go.sum has no {kind} for {path} {version}",
                file=ctx.rel("go.sum"),
                line=None,
                subject=path,
                hint=f"run 'go mod tidy'{ctx.in_dir} (or 'go mod download {path}') and commit go.sum",
                detail=f"required at {ctx.rel('go.mod')}:{lines[path]}" if path in lines else None,
            )
        )
    return out


def _frozen(ctx: RuleContext) -> list[Finding]:
    """Run the configured go command; go.mod and go.sum must come out byte for byte the same."""
    words = ctx.config.frozen_command.split()
    if not words or words[0] != "go":
        raise UsageError(
            f"deps.frozen_command: expected a go command such as 'go build ./...' (found {ctx.config.frozen_command!r})",
            hint="goship runs only the go toolchain here; run other build steps before 'goship deps check'",
        )
    files = [ctx.dir / "go.mod", ctx.dir / "go.sum"]
    before = [f.read_bytes() if f.is_file() else None for f in files]
    try:
        done = ctx.go.run(*words[1:], check=False, cwd=ctx.dir)
    finally:
        after = [f.read_bytes() if f.is_file() else None for f in files]
        for f, content in zip(files, before, strict=True):  # leave the tree as it was
            if content is None:
                f.unlink(missing_ok=True)
            else:
                f.write_bytes(content)
    out = []
    for f, old, new in zip(files, before, after, strict=True):
        if old == new:
            continue
        diff = "".join(
            difflib.unified_diff(
                (old or b"").decode(errors="replace").splitlines(keepends=True),
                (new or b"").decode(errors="replace").splitlines(keepends=True),
                fromfile=f"{f.name} (before)",
                tofile=f"{f.name} (after '{ctx.config.frozen_command}')",
            )
        )
        out.append(
            ctx.finding(
                "frozen",
                f"'{ctx.config.frozen_command}' changed {f.name}",
                file=ctx.rel(f.name),
                line=None,
                hint="commit the result of 'go mod tidy'; a build must not need to change go.mod or go.sum",
                detail=diff.rstrip(),
            )
        )
    if not done.ok:
        out.append(_could_not_run(ctx, "frozen", ctx.config.frozen_command, done.stderr))
    return out


def _could_not_run(ctx: RuleContext, rule: str, command: str, output: str) -> Finding:
    lines = [line for line in output.strip().splitlines() if line.strip()]
    return ctx.finding(
        rule,
        f"'{command}' failed: {lines[0] if lines else '(no output)'}",
        file=ctx.rel("go.mod"),
        line=None,
        hint="fix the error above (a broken go.mod, a missing module, no network to the module proxy)",
        detail="\n".join(lines[1:20]) or None,
    )


def _go_tuple(version: str) -> tuple[int, ...]:
    head = version.split("rc")[0].split("beta")[0]
    return tuple(int(p) for p in head.split(".") if p.isdigit())


CHECKS: dict[str, Callable[[RuleContext], list[Finding]]] = {
    "local_replace": _local_replace,
    "pinned": _pinned,
    "exclude": _exclude,
    "go_version": _go_version,
    "toolchain": _toolchain,
    "vendor": _vendor,
    "tidy": _tidy,
    "verify": _verify,
    "sum_complete": _sum_complete,
    "frozen": _frozen,
}
