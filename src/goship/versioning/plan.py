"""What each module is at, what it should be next, and why: the heart of ``goship version``.

The current version is the highest release tag of the module that is an ancestor of HEAD (not merely
the highest tag in the repository); the commits counted are those since the last final release that
touch the module's files and not a nested module's.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from goship import semver
from goship.config import GoshipConfig
from goship.errors import CheckFailedError, UsageError
from goship.git import Commit, Git, RepoInfo, TagRef
from goship.modules import Module, Tree, discover_modules, select_modules
from goship.versioning.bump import (
    Bump,
    BumpPolicy,
    CommitBump,
    apply_bump,
    check_prerelease_id,
    classify_commits,
    highest_bump,
    next_prerelease,
    release_core,
)
from goship.versioning.tags import IgnoredTag, ModuleTags, Release, classify_tags


class MajorVersionError(CheckFailedError):
    """The next version's major does not match the module path's /vN suffix."""


class TagExistsError(CheckFailedError):
    """The next version's tag exists already; goship never re-points a tag."""


@dataclass
class Repository:
    """A repository as versioning sees it: its modules, tags and HEAD."""

    git: Git
    top: Path
    head: str
    modules: list[Module]
    tags: list[TagRef]
    warnings: list[str] = field(default_factory=list)
    _in_history: dict[str, bool] = field(default_factory=dict, init=False, repr=False)

    def in_history(self, release: Release) -> bool:
        """Whether the release's commit is HEAD or an ancestor of it (asked of git once per commit)."""
        if release.commit not in self._in_history:
            self._in_history[release.commit] = self.git.is_ancestor(release.commit, self.head)
        return self._in_history[release.commit]

    def tag(self, name: str) -> TagRef | None:
        return next((t for t in self.tags if t.name == name), None)

    def select(self, dirs: Sequence[str]) -> list[Module]:
        """The modules named by directory (or module path); all when none are named."""
        return select_modules(self.modules, dirs)


@dataclass(frozen=True)
class ModuleVersion:
    """A module's current and next version, and the commits that decided it."""

    module: Module
    current: Release | None
    """The highest release (prereleases included) that is an ancestor of HEAD."""
    base: Release | None
    """The highest final release that is an ancestor of HEAD: commits are counted from it."""
    next: str | None
    bump: Bump
    commits: tuple[CommitBump, ...]
    ignored_tags: tuple[IgnoredTag, ...]
    refusal: CheckFailedError | None = None
    """Why ``next`` must not be tagged (major-version mismatch, tag exists), if it must not."""
    notes: tuple[str, ...] = ()

    @property
    def next_tag(self) -> str | None:
        return self.module.tag(self.next) if self.next else None


def open_repository(git: Git, config: GoshipConfig, *, info: RepoInfo | None = None) -> Repository:
    """Read what versioning needs from the repository at ``git.cwd``; refuse what cannot work."""
    info = info or git.repo_info()
    if info.head is None:
        raise UsageError(
            f"{info.top} has no commits yet",
            hint="commit your Go module first; goship versions what the history says",
        )
    top_git = git.at(info.top)
    modules = discover_modules(Tree(top_git, info.top), exclude=config.modules.exclude)
    tags = top_git.tags()
    repo = Repository(
        git=top_git,
        top=info.top,
        head=info.head,
        modules=modules,
        tags=tags,
    )
    if info.shallow:
        if not tags:
            raise UsageError(
                f"{info.top} is a shallow clone without tags, so the current versions cannot be known",
                hint="fetch the history and tags: 'git fetch --unshallow --tags' "
                "(GitHub Actions: actions/checkout with 'fetch-depth: 0')",
            )
        repo.warnings.append(
            "this is a shallow clone: releases older than its history are invisible "
            "(fix: 'git fetch --unshallow --tags')"
        )
    return repo


def module_commits(repo: Repository, module: Module, *, since: str | None) -> list[Commit]:
    """Commits since ``since`` (a rev; all history when ``None``) that are ``module``'s, newest first."""
    revs = ["HEAD"] if since is None else ["HEAD", f"^{since}"]
    return repo.git.log(revs, paths=[module.dir], exclude_paths=list(module.nested))


def plan_versions(
    repo: Repository,
    modules: Sequence[Module],
    config: GoshipConfig,
    *,
    pre: str | None = None,
) -> list[ModuleVersion]:
    """The next version of each of ``modules``."""
    if pre is not None and (why := check_prerelease_id(pre)):
        raise UsageError(f"--pre: {why}", hint="use a channel name such as 'rc', 'beta' or 'alpha'")
    policy = BumpPolicy(
        bump_types=config.versioning.bump_types,
        breaking_before_v1=config.versioning.breaking_before_v1,
    )
    tags_of = {m.dir: classify_tags(m, repo.modules, repo.tags) for m in modules}

    def history_of(m: Module) -> tuple[Release | None, Release | None, list[Commit]]:
        current = tags_of[m.dir].highest(where=repo.in_history)
        base = current
        if current is not None and semver.prerelease(current.version):
            base = tags_of[m.dir].highest(where=repo.in_history, final_only=True)
        return current, base, module_commits(repo, m, since=base.tag if base else None)

    # git does the work here, one process per module: a few at a time keep both cores busy.
    if len(modules) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=4) as pool:
            histories = list(pool.map(history_of, modules))
    else:
        histories = [history_of(m) for m in modules]
    return [
        _plan_module(repo, m, tags_of[m.dir], current, base, commits, policy, config, pre=pre)
        for m, (current, base, commits) in zip(modules, histories, strict=True)
    ]


def _plan_module(
    repo: Repository,
    module: Module,
    tags: ModuleTags,
    current: Release | None,
    base: Release | None,
    commits: list[Commit],
    policy: BumpPolicy,
    config: GoshipConfig,
    *,
    pre: str | None,
) -> ModuleVersion:
    below_v1 = semver.major(base.version) == "v0" if base else _initial(module, config).startswith("v0.")
    bumps = classify_commits(commits, policy, below_v1=below_v1)
    bump = highest_bump(bumps)
    notes: list[str] = []

    if bump == "none":
        return ModuleVersion(module, current, base, None, "none", tuple(bumps), tags.ignored)

    target = apply_bump(base.version, bump) if base else _initial(module, config)
    if current is not None and semver.prerelease(current.version):
        # A prerelease line continues to (and ends in) its own version, never below it.
        core = release_core(current.version)
        if semver.compare(core, target) > 0:
            target = core
        if pre is not None and not _changed_since(repo, module, current):
            notes.append(f"nothing of this module changed since {current.tag}")
            return ModuleVersion(
                module, current, base, None, "none", tuple(bumps), tags.ignored, None, tuple(notes)
            )

    existing = [r.version for r in tags.releases]
    next_version = next_prerelease(target, pre, existing) if pre else target
    refusal = _major_refusal(module, next_version, base, bump) or _exists_refusal(repo, module, next_version)
    # Releases above the next version are not in HEAD's history: the current one is the highest there.
    newer = [r for r in tags.releases if semver.compare(r.version, next_version) > 0]
    if newer and refusal is None:
        notes.append(
            f"maintenance release: {newer[0].tag} exists on another line of history; "
            f"{module.tag(next_version)} goes on this one"
        )
    return ModuleVersion(
        module, current, base, next_version, bump, tuple(bumps), tags.ignored, refusal, tuple(notes)
    )


def _initial(module: Module, config: GoshipConfig) -> str:
    """A module's first version: vN.0.0 for a /vN module, else the configured initial version."""
    major = module.path_major
    if major and major not in (".v0", ".v1"):
        return f"v{major[2:].removesuffix('-unstable')}.0.0"
    return config.versioning.initial_version


def _changed_since(repo: Repository, module: Module, release: Release) -> bool:
    return bool(module_commits(repo, module, since=release.tag))


def _major_refusal(module: Module, version: str, base: Release | None, bump: Bump) -> CheckFailedError | None:
    if semver.match_path_major(version, module.path_major):
        return None
    major = semver.major(version)
    if module.path_major.startswith("."):
        wanted = f"{module.path[: -len(module.path_major)]}.{major}"
    else:
        wanted = f"{module.path[: len(module.path) - len(module.path_major)]}/{major}"
    go_mod = "go.mod" if module.dir == "." else f"{module.dir}/go.mod"
    alternative = ""
    if base is not None and bump == "major":
        alternative = (
            f", or keep {semver.major(base.version)} by releasing {apply_bump(base.version, 'minor')}"
        )
        alternative += " (drop the '!' and BREAKING CHANGE footers that ask for a major)"
    return MajorVersionError(
        f"{module.tag(version)} needs module path {wanted} ({go_mod} says {module.path})",
        hint=f"change {go_mod} to 'module {wanted}' and update its import paths{alternative}",
    )


def _exists_refusal(repo: Repository, module: Module, version: str) -> CheckFailedError | None:
    existing = repo.tag(module.tag(version))
    if existing is None:
        return None
    # It is newer than the current release, so it is not in HEAD's history.
    return TagExistsError(
        f"tag {existing.name} exists already (at {existing.commit[:12]}, not in HEAD's history); "
        "goship never moves a tag",
        hint="on a maintenance branch release only what does not exist yet (a fix gives the next patch); "
        "or delete the stray tag yourself if it was never published",
    )


def version_json(v: ModuleVersion) -> dict[str, object]:
    """The ``goship version --json`` entry of one module (a contract later tooling relies on)."""
    return {
        "path": v.module.path,
        "dir": v.module.dir,
        "tag_prefix": v.module.tag_prefix,
        "current": v.current.version if v.current else None,
        "next": v.next,
        "bump": v.bump,
        "next_tag": v.next_tag,
        "commits": [
            {"sha": cb.commit.sha, "subject": cb.commit.subject, "bump": cb.bump, "reason": cb.reason}
            for cb in v.commits
        ],
        "ignored_tags": [{"tag": t.tag, "reason": t.reason} for t in v.ignored_tags],
        "refused": {"error": v.refusal.message, "hint": v.refusal.hint} if v.refusal else None,
        "notes": list(v.notes),
    }


@dataclass(frozen=True)
class BuildIdentity:
    """What a build of HEAD is called: its release version if HEAD is tagged, else a pseudo-version."""

    version: str
    released: bool
    """A release tag of the module points at HEAD."""
    commit: str
    time: int
    """The commit's time (seconds since the epoch): the build date, the same for every build."""

    @property
    def date(self) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.time))


def build_identity(repo: Repository, module: Module, *, commit: str | None = None) -> BuildIdentity:
    """The identity of ``commit`` (HEAD by default) for ``module``: the highest release tagged on it,
    else Go's pseudo-version."""
    commit = commit or repo.head
    tags = classify_tags(module, repo.modules, repo.tags)
    stamp = repo.git.commit_time(commit)
    on_commit = tags.highest(where=lambda r: r.commit == commit)
    if on_commit is not None:
        return BuildIdentity(on_commit.version, True, commit, stamp)
    in_history = (
        repo.in_history if commit == repo.head else (lambda r: repo.git.is_ancestor(r.commit, commit))
    )
    current = tags.highest(where=in_history)
    major = module.path_major.lstrip("/.").removesuffix("-unstable") or "v0"
    older = current.version if current else ""
    version = semver.pseudo_version(major, older, stamp, commit[:12])
    return BuildIdentity(version, False, commit, stamp)
