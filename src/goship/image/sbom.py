"""An SPDX 2.3 SBOM (spdx.github.io/spdx-spec/v2.3) of a Go binary, from the build information Go embeds in
it (``runtime/debug.BuildInfo``, read by ``go version -m``), with purls per the package-url spec.

The document is a pure function of the build information and the caller's ``name``, ``namespace_seed``
and ``created``: no random UUID, no clock, canonical JSON — the same binary gives the same SBOM bytes.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import goship
from goship.errors import GoToolError, UsageError
from goship.gostrconv import QuoteError, unquote
from goship.gotool import Go

MEDIA_TYPE = "application/spdx+json"
"""The media type of :func:`serialize`'s bytes, e.g. for an OCI artifact or referrer."""
_NOASSERTION = "NOASSERTION"
# Names SPDX IDs, which allow only letters, digits, '.' and '-'.
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")


@dataclass(frozen=True)
class GoModule:
    """A module line of the build information (``mod``, ``dep`` or the ``=>`` under one)."""

    path: str
    """Module path, or for a directory replacement the directory as go.mod wrote it (``../lib``)."""
    version: str
    """Module version; ``(devel)`` for the main module built outside a tagged VCS checkout, or a directory."""
    sum: str = ""
    """The ``h1:`` go.sum hash, when Go recorded one."""
    replace: GoModule | None = None
    """What a ``replace`` directive swapped in for this module; its code is what the binary holds."""

    @property
    def effective(self) -> GoModule:
        """The module whose code was compiled: the replacement if there is one."""
        return self.replace or self


@dataclass(frozen=True)
class BuildInfo:
    """What ``go version -m`` reports for a binary."""

    go_version: str
    """Toolchain, ``go1.26.8`` (possibly followed by `` X:experiment``)."""
    path: str
    """Import path of the main package, e.g. ``example.com/shop/cmd/orders``."""
    main: GoModule | None
    """The main module; None for a binary built outside module mode."""
    deps: tuple[GoModule, ...] = ()
    """Every module linked in besides the main one, in Go's (path) order."""
    settings: tuple[tuple[str, str], ...] = field(default=())
    """``build`` lines as (key, value): ``-trimpath``, ``GOOS``, ``vcs.revision`` …, in Go's order."""

    def setting(self, key: str) -> str | None:
        """The value of build setting ``key``, or None."""
        return next((value for k, value in self.settings if k == key), None)


def _module_from_json(data: dict[str, Any]) -> GoModule | None:
    if not data or not data.get("Path"):
        return None
    replace = _module_from_json(data.get("Replace") or {})
    return GoModule(data["Path"], data.get("Version", ""), data.get("Sum", ""), replace)


def parse_json(text: str) -> BuildInfo:
    """Build information from ``go version -m -json`` (Go 1.25 and later)."""
    try:
        data = json.loads(text)
        deps = [_module_from_json(d) for d in data.get("Deps") or ()]
        return BuildInfo(
            go_version=data["GoVersion"],
            path=data.get("Path", ""),
            main=_module_from_json(data.get("Main") or {}),
            deps=tuple(d for d in deps if d is not None),
            settings=tuple((s["Key"], s.get("Value", "")) for s in data.get("Settings") or ()),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UsageError(f"expected the JSON of 'go version -m -json' (got {text[:80]!r}…)") from exc


class _LineError(Exception):
    """A line runtime/debug.ParseBuildInfo would refuse; ``str()`` says why."""


def _quoted_prefix(text: str) -> str:
    """The Go string literal at the start of ``text`` (strconv.QuotedPrefix)."""
    if text.startswith("`"):
        end = text.find("`", 1)
    else:
        end, i = -1, 1
        while i < len(text):
            if text[i] == "\\":
                i += 2
                continue
            if text[i] == '"':
                end = i
                break
            i += 1
    if end < 0:
        raise _LineError("invalid quoted string")
    return text[: end + 1]


def _go_string(literal: str) -> str:
    if literal.startswith("`"):
        return literal[1:-1]
    try:
        return unquote(literal)
    except QuoteError as exc:
        raise _LineError(f"invalid quoted string {literal!r}") from exc


def _setting(kv: str) -> tuple[str, str]:
    """One ``build KEY=VALUE`` line as runtime/debug.ParseBuildInfo reads it: either side may be quoted."""
    if kv[:1] in ('"', "`"):
        raw_key = _quoted_prefix(kv)
        key, rest = _go_string(raw_key), kv[len(raw_key) :]
        if not rest.startswith("="):
            raise _LineError("build line missing '=' after quoted key")
        raw_value = rest[1:]
    else:
        key, eq, raw_value = kv.partition("=")
        if not eq or not key:
            raise _LineError("build line missing key or '='")
    return key, _go_string(raw_value) if raw_value[:1] in ('"', "`") else raw_value


def _module_line(columns: list[str], *, replacement: bool) -> GoModule:
    if len(columns) not in ((3,) if replacement else (2, 3)):
        raise _LineError(f"expected {'3' if replacement else '2 or 3'} columns; got {len(columns)}")
    return GoModule(columns[0], columns[1], columns[2] if len(columns) == 3 else "")


def parse_text(text: str) -> BuildInfo:
    """Build information from ``go version -m`` text: ``FILE: goVERSION``, then the tab-indented lines that
    runtime/debug.ParseBuildInfo reads (and, like it, lines of an unknown kind are skipped)."""
    lines = text.split("\n")  # only newline ends a line; a form feed in a value does not
    if not lines or ": " not in lines[0]:
        raise UsageError(
            f"expected 'go version -m' output starting with 'FILE: goVERSION' (got {text[:80]!r})"
        )
    go_version = lines[0].rsplit(": ", 1)[1].strip()
    path, main, deps, settings = "", None, [], []
    last: str | None = None  # which module a "=>" line replaces: "main", "dep" or none
    for number, raw in enumerate(lines[1:], start=2):
        word, _, rest = raw.removeprefix("\t").partition("\t")
        try:
            if word == "path":
                path = rest
            elif word == "mod":
                main, last = _module_line(rest.split("\t"), replacement=False), "main"
            elif word == "dep":
                deps.append(_module_line(rest.split("\t"), replacement=False))
                last = "dep"
            elif word == "=>":
                replace = _module_line(rest.split("\t"), replacement=True)
                if last == "main" and main:
                    main = GoModule(main.path, main.version, main.sum, replace)
                elif last == "dep":
                    deps[-1] = GoModule(deps[-1].path, deps[-1].version, deps[-1].sum, replace)
                else:
                    raise _LineError("replacement with no module on previous line")
                last = None
            elif word == "build":
                settings.append(_setting(rest))
        except _LineError as exc:
            raise UsageError(f"'go version -m' output line {number} is not build information: {exc}") from exc
    return BuildInfo(go_version, path, main, tuple(deps), tuple(settings))


def read_build_info(go: Go, binary: Path) -> BuildInfo:
    """The build information in ``binary``: ``go version -m -json``, or the text form on a Go before 1.25."""
    if not binary.is_file():
        raise UsageError(f"expected a Go binary at {binary} (no such file)")
    try:
        return parse_json(go.version_m(binary, json_output=True))
    except GoToolError as exc:
        if "flag provided but not defined" not in exc.message:
            raise
    return parse_text(go.version_m(binary))


def purl(path: str, version: str = "", *, subpath: str = "") -> str:
    """``pkg:golang/<path>@<version>`` with every segment percent-encoded as the purl spec requires.

    Case is kept: Go module paths are case-sensitive (github.com/Azure/...), and Go's vulnerability tooling
    and syft match them as written, whatever the old lowercase note of the golang purl type says.
    """

    def segments(text: str) -> str:
        # purl keeps only A-Z a-z 0-9 . - _ ~ and ':' unencoded; '+' (as in +incompatible) becomes %2B.
        return "/".join(quote(part, safe=":") for part in text.split("/") if part)

    out = f"pkg:golang/{segments(path)}"
    if version:
        out += "@" + quote(version, safe=":")
    if subpath:
        out += "#" + "/".join(quote(p, safe=":") for p in subpath.split("/") if p not in ("", ".", ".."))
    return out


def _spdx_id(kind: str, *identity: str) -> str:
    """A readable SPDX ID that stays unique even when two names sanitise to the same text."""
    readable = _ID_UNSAFE.sub("-", "-".join(identity)).strip("-")[:60]
    short = hashlib.sha256("\0".join(identity).encode()).hexdigest()[:8]
    return f"SPDXRef-{kind}-{readable}-{short}"


def _package(
    spdx_id: str, name: str, version: str, refs: list[dict[str, str]], comment: str
) -> dict[str, Any]:
    package: dict[str, Any] = {
        "SPDXID": spdx_id,
        "name": name,
        # Where a module came from is not in the binary (any GOPROXY, or a directory); pkg.go.dev serves
        # documentation, not a download. The purl names the module exactly instead.
        "downloadLocation": _NOASSERTION,
        "filesAnalyzed": False,
        "supplier": _NOASSERTION,
        "licenseConcluded": _NOASSERTION,
        "licenseDeclared": _NOASSERTION,
        "copyrightText": _NOASSERTION,
        "externalRefs": refs,
    }
    if version and version != "(devel)":
        package["versionInfo"] = version
    if comment:
        package["comment"] = comment
    return package


def _purl_ref(locator: str) -> dict[str, str]:
    return {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": locator}


def _module_package(module: GoModule) -> dict[str, Any]:
    code = module.effective
    is_dir = module.replace is not None and code.version in ("", "(devel)")
    notes = []
    if module.replace is not None:
        target = code.path + ("" if is_dir else f" {code.version}")
        notes.append(f"replaced: {module.path} {module.version} => {target}")
    if code.sum:
        # h1: is Go's dirhash (SHA-256 over a file list), not an SPDX checksum algorithm: a comment, not a checksum.
        notes.append(f"go.sum {code.sum}")
    # A directory replacement has no version anywhere; the purl names the module it stands in for.
    locator = purl(module.path) if is_dir else purl(code.path, code.version)
    version = "" if is_dir else code.version
    return _package(
        _spdx_id("Package-go-module", module.path, version),
        module.path,
        version,
        [_purl_ref(locator)],
        "; ".join(notes),
    )


def _created(created: datetime) -> str:
    if created.tzinfo is None:
        raise UsageError(f"expected a timezone-aware creation time (not {created.isoformat()})")
    return created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def spdx_document(
    build_info: BuildInfo,
    *,
    name: str,
    namespace_seed: str,
    created: datetime,
    main_version: str | None = None,
    binary_sha256: str | None = None,
) -> dict[str, Any]:
    """An SPDX 2.3 document: the program DEPENDS_ON each linked module and the Go standard library.

    ``namespace_seed`` (an image digest or the binary's sha256) fixes ``documentNamespace`` through a
    name-based UUID. ``main_version`` stands in for ``(devel)``, which is what the main module says when the
    version was injected with -X rather than stamped from VCS. ``binary_sha256`` adds the file's checksum.
    """
    if not namespace_seed:
        raise UsageError(
            "expected a namespace seed (an image digest or a binary sha256), got an empty string"
        )
    main = build_info.main or GoModule(build_info.path, "")
    version = main.version if main.version not in ("", "(devel)") else (main_version or "")
    subpath = (
        build_info.path.removeprefix(main.path).strip("/") if build_info.path.startswith(main.path) else ""
    )
    app_id = _spdx_id("Package-go-program", build_info.path, version)
    app = _package(
        app_id,
        build_info.path or main.path,
        version,
        [_purl_ref(purl(main.path, version, subpath=subpath))],
        "",
    )
    app["primaryPackagePurpose"] = "APPLICATION"
    if binary_sha256:
        app["checksums"] = [{"algorithm": "SHA256", "checksumValue": binary_sha256.removeprefix("sha256:")}]

    go_version = next(
        (w for w in build_info.go_version.split() if w.startswith("go1")), build_info.go_version
    )
    # Named and versioned as syft does (stdlib, go1.x.y, purl without the "go"), so scanners match it.
    stdlib = _package(
        _spdx_id("Package-go-stdlib", go_version),
        "stdlib",
        go_version,
        [
            _purl_ref(purl("stdlib", go_version.removeprefix("go"))),
            {
                "referenceCategory": "SECURITY",
                "referenceType": "cpe23Type",
                "referenceLocator": f"cpe:2.3:a:golang:go:{go_version.removeprefix('go')}:-:*:*:*:*:*:*",
            },
        ],
        f"Go toolchain {build_info.go_version}",
    )
    stdlib["licenseDeclared"] = "BSD-3-Clause"  # the Go distribution's own LICENSE
    deps = [_module_package(m) for m in build_info.deps]
    packages = [app, *deps, stdlib]

    seed_uuid = uuid.uuid5(uuid.NAMESPACE_URL, f"goship-sbom:{name}\n{namespace_seed}")
    relationships = [
        {"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": app_id}
    ]
    relationships += [
        {"spdxElementId": app_id, "relationshipType": "DEPENDS_ON", "relatedSpdxElement": p["SPDXID"]}
        for p in packages[1:]
    ]
    return {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": name,
        "documentNamespace": f"https://spdx.org/spdxdocs/goship/{quote(name, safe='')}-{seed_uuid}",
        "creationInfo": {"creators": [f"Tool: goship-{goship.__version__}"], "created": _created(created)},
        "packages": packages,
        "relationships": relationships,
    }


def serialize(document: dict[str, Any]) -> bytes:
    """Canonical JSON: sorted keys, no spaces, UTF-8 — equal documents give equal bytes."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest(document: dict[str, Any]) -> str:
    """``sha256:<hex>`` of :func:`serialize`'s bytes, as an OCI descriptor names them."""
    return "sha256:" + hashlib.sha256(serialize(document)).hexdigest()
