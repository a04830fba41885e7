"""vendor/modules.txt, its model and :func:`parse`, read as cmd/go/internal/modload's ``readVendorList``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from goship import semver
from goship.deps.gosum import GO_WHITESPACE, go_fields
from goship.deps.vendor._gorules import _is_import_path, _mod_compare
from goship.errors import UsageError

VENDOR_FILE = "vendor/modules.txt"


class VendorError(UsageError):
    """vendor/modules.txt cannot be read."""


# --- the model -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VendorModule:
    """What modules.txt says about one module version (Go merges repeated ``#`` lines; so does this)."""

    path: str
    """The module path."""
    version: str
    """The module version; ``""`` for a wildcard replacement line ``# MODULE => …``."""
    replacement_path: str = ""
    """The path or directory it is replaced by, ``""`` when not replaced."""
    replacement_version: str = ""
    """The version of a module replacement, ``""`` for a directory replacement or none."""
    explicit: bool = False
    """Whether a ``## explicit`` annotation says go.mod requires exactly this version."""
    go_version: str = ""
    """The module's ``go`` directive from its ``## go 1.N`` annotation (go ≥ 1.17 writes it), or ``""``."""
    packages: tuple[str, ...] = ()
    """The import paths vendored from it, in file order, without repeats."""
    line: int = 0
    """The 1-based line of its first ``#`` line."""

    @property
    def replaced(self) -> bool:
        """Whether modules.txt records a replacement for it."""
        return bool(self.replacement_path)

    def describe(self) -> str:
        """Its version, replacement and annotations, as in ``v1.0.0 => ../lib, explicit, go 1.21``."""
        parts = [self.version or "all versions"]
        if self.replaced:
            parts[0] += f" => {_target(self.replacement_path, self.replacement_version)}"
        if self.explicit:
            parts.append("explicit")
        if self.go_version:
            parts.append(f"go {self.go_version}")
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class IgnoredLine:
    """A non-blank line the go command skips without a word."""

    line: int
    """The 1-based line number."""
    text: str
    """The line, without its newline."""
    reason: str
    """Why the go command does not use it."""


@dataclass(frozen=True)
class VendorList:
    """vendor/modules.txt as the go command understands it."""

    modules: tuple[VendorModule, ...]
    """One entry per module version (path, version), in order of first appearance."""
    file: str = VENDOR_FILE
    """The name used in messages."""
    ignored: tuple[IgnoredLine, ...] = ()
    """Lines the go command skips, for gates that want to point at them."""
    build_keys: tuple[tuple[str, str], ...] = ()
    """Go's ``vendorList``: (path, version) of the modules that provide packages, newest per path, in the
    order they were found; a module version is added when one of its packages is listed and no equal or
    newer version of its path came before."""
    replaced_keys: tuple[tuple[str, str], ...] = ()
    """Go's ``vendorReplaced``: (path, version) of every ``#`` line with a replacement Go understood."""
    package_keys: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """Import path → (path, version) of the module it is vendored from (the last one listing it)."""
    _by_key: Mapping[tuple[str, str], VendorModule] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    """The modules by (path, version)."""
    _selected: Mapping[str, str] = field(init=False, repr=False, compare=False, default_factory=dict)
    """Go's ``vendorVersion``: module path → the version the build uses."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_key", MappingProxyType({(m.path, m.version): m for m in self.modules}))
        object.__setattr__(self, "_selected", MappingProxyType(dict(self.build_keys)))

    def get(self, path: str, version: str) -> VendorModule | None:
        """The entry for ``path`` at ``version`` (``""``: its wildcard replacement line), or None."""
        return self._by_key.get((path, version))

    def versions_of(self, path: str) -> tuple[VendorModule, ...]:
        """Every entry for ``path``, wildcard line included, in file order."""
        return tuple(m for m in self.modules if m.path == path)

    def selected_version(self, path: str) -> str | None:
        """The version of ``path`` whose packages the build uses, or None if it provides no package."""
        return self._selected.get(path)

    @property
    def build_list(self) -> tuple[VendorModule, ...]:
        """The modules of :attr:`build_keys`."""
        return tuple(self._by_key[k] for k in self.build_keys)

    @property
    def replaced(self) -> tuple[VendorModule, ...]:
        """The modules of :attr:`replaced_keys`, each once."""
        return tuple(self._by_key[k] for k in dict.fromkeys(self.replaced_keys))

    def package_module(self, import_path: str) -> VendorModule | None:
        """The module a package is vendored from, or None."""
        key = self.package_keys.get(import_path)
        return None if key is None else self._by_key[key]


# --- reading ---------------------------------------------------------------------------------------


# Why the go command skips a line, for IgnoredLine.reason.
_SHORT_MODULE_LINE = "a module line needs '# MODULE VERSION' or '# MODULE => REPLACEMENT'"
_BAD_REPLACEMENT = "the replacement is not 'PATH' or 'PATH VERSION', so Go ignores it"
_TRAILING_TEXT = "text after the module is not '=> REPLACEMENT', so Go ignores it"
_NO_MODULE = "no module line above it"
_NOT_A_PACKAGE = "not a single valid import path"


@dataclass
class _Draft:
    """A module while its lines are being read."""

    line: int
    replacement: tuple[str, str] = ("", "")
    explicit: bool = False
    go_version: str = ""
    packages: dict[str, None] = field(default_factory=dict)


def parse(text: str, *, file: str = VENDOR_FILE) -> VendorList:
    """Read modules.txt's text as the go command does; it never refuses a line, so neither does this."""
    drafts: dict[tuple[str, str], _Draft] = {}
    ignored: list[IgnoredLine] = []
    build: list[tuple[str, str]] = []
    selected: dict[str, str] = {}
    replaced: list[tuple[str, str]] = []
    packages: dict[str, tuple[str, str]] = {}
    current: tuple[str, str] | None = None

    for lineno, line in enumerate(text.split("\n"), start=1):
        if line.startswith("# "):
            f = go_fields(line)
            if len(f) < 3:
                # Go skips the line but keeps the module above current, so packages below still count.
                ignored.append(IgnoredLine(lineno, line, _SHORT_MODULE_LINE))
                continue
            if semver.is_valid(f[2]):
                current, rest = (f[1], f[2]), f[3:]
            elif f[2] == "=>":
                current, rest = (f[1], ""), f[2:]
            else:
                current = None
                ignored.append(IgnoredLine(lineno, line, f"{f[2]!r} is neither a version nor '=>'"))
                continue
            draft = drafts.setdefault(current, _Draft(lineno))
            if len(rest) >= 2 and rest[0] == "=>":
                if len(rest) == 2:
                    draft.replacement = (rest[1], "")
                    replaced.append(current)
                elif len(rest) == 3 and semver.is_valid(rest[2]):
                    draft.replacement = (rest[1], rest[2])
                    replaced.append(current)
                else:
                    ignored.append(IgnoredLine(lineno, line, _BAD_REPLACEMENT))
            elif rest:
                ignored.append(IgnoredLine(lineno, line, _TRAILING_TEXT))
            continue

        if current is None:
            if go_fields(line):
                ignored.append(IgnoredLine(lineno, line, _NO_MODULE))
            continue
        draft = drafts[current]

        if line.startswith("## "):
            for raw in line[3:].split(";"):
                annotation = raw.strip(GO_WHITESPACE)
                if annotation == "explicit":
                    draft.explicit = True
                elif annotation.startswith("go "):
                    draft.go_version = annotation[3:]
                # Go reserves every other annotation for future use.
            continue

        f = go_fields(line)
        if len(f) == 1 and _is_import_path(f[0]):
            draft.packages[f[0]] = None
            packages[f[0]] = current
            path, version = current
            seen = selected.get(path)
            if seen is None or _mod_compare(path, seen, version) < 0:
                build.append(current)
                selected[path] = version
        elif f:
            ignored.append(IgnoredLine(lineno, line, _NOT_A_PACKAGE))

    modules = tuple(
        VendorModule(
            path=path,
            version=version,
            replacement_path=d.replacement[0],
            replacement_version=d.replacement[1],
            explicit=d.explicit,
            go_version=d.go_version,
            packages=tuple(d.packages),
            line=d.line,
        )
        for (path, version), d in drafts.items()
    )
    return VendorList(
        modules,
        file=file,
        ignored=tuple(ignored),
        build_keys=tuple(build),
        replaced_keys=tuple(replaced),
        package_keys=MappingProxyType(packages),
    )


def parse_file(path: str | Path) -> VendorList:
    """Read a modules.txt file; a missing file is an empty list, as for the go command."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        return VendorList((), file=str(path))
    except OSError as exc:
        raise VendorError(f"{path}: cannot read vendor/modules.txt: {exc.strerror}") from exc
    # Go reads bytes; surrogateescape keeps invalid UTF-8 in place (and out of valid import paths).
    return parse(data.decode("utf-8", errors="surrogateescape"), file=str(path))


def _target(path: str, version: str) -> str:
    """A replacement as go.mod writes it: ``../lib`` or ``example.com/fork v1.2.0``."""
    return f"{path} {version}" if version else path
