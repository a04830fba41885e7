"""The one wrapper around the ``git`` command: every git call goes through :class:`Git`.

No shell, typed results, and git's own stderr kept in the error so a person sees what git said.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from goship import _proc
from goship.errors import GitError, UsageError

_FIELD = "\x1f"
_RECORD = "\x1e"


@dataclass(frozen=True)
class TagRef:
    """A tag as ``for-each-ref`` reports it."""

    name: str
    """The tag name without ``refs/tags/``."""
    commit: str
    """The commit it points at (peeled through an annotated tag object)."""
    annotated: bool


@dataclass(frozen=True)
class Commit:
    """One commit of ``git log``."""

    sha: str
    parents: tuple[str, ...]
    author_name: str
    author_email: str
    subject: str
    """The first line of the message."""
    body: str
    """Everything after the first line, stripped."""

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1


@dataclass(frozen=True)
class RepoInfo:
    top: Path
    shallow: bool
    head: str | None
    """HEAD's commit, or ``None`` in a repository without commits."""


class Git:
    """Runs git in one repository (or in the directory that will become one)."""

    def __init__(self, cwd: Path, *, program: str = "git", env: Mapping[str, str] | None = None) -> None:
        self.cwd = cwd
        self.program = program
        self.env = dict(env) if env else None

    def at(self, cwd: Path) -> Git:
        """The same git (program, environment), run in ``cwd``."""
        return self if cwd == self.cwd else Git(cwd, program=self.program, env=self.env)

    # -- running ---------------------------------------------------------------------------------

    def run(self, *args: str, input: str | None = None, check: bool = True) -> _proc.Completed:
        argv = [self.program, *args]
        try:
            done = _proc.run(argv, cwd=self.cwd, env=self.env, input=input)
        except FileNotFoundError as exc:
            raise GitError(
                f"git is not installed (looked for {self.program!r} on PATH)",
                hint="install git (Debian: apt-get install git)",
            ) from exc
        except NotADirectoryError as exc:
            raise UsageError(f"{self.cwd} is not a directory") from exc
        if check and not done.ok:
            raise GitError(f"git {' '.join(args[:3])} failed: {_first_lines(done.stderr)}")
        return done

    # -- repository ------------------------------------------------------------------------------

    def repo_info(self) -> RepoInfo:
        """Where the work tree starts, whether it is shallow, and HEAD; refuses a non-repository."""
        done = self.run("rev-parse", "--show-toplevel", "--is-shallow-repository", "HEAD", check=False)
        head: str | None = None
        if not done.ok:
            if "not a git repository" in done.stderr:
                raise UsageError(
                    f"{self.cwd} is not inside a git repository",
                    hint="run goship in a clone of your Go repository (or 'git init' a new one)",
                )
            # No commit yet: HEAD names nothing, so ask again without it.
            done = self.run("rev-parse", "--show-toplevel", "--is-shallow-repository", check=False)
            if "must be run in a work tree" in done.stderr:
                raise UsageError(
                    f"{self.cwd} has no work tree (a bare repository?)",
                    hint="run goship in a checkout, not in a bare repository",
                )
            if not done.ok:
                raise GitError(f"git rev-parse failed: {_first_lines(done.stderr)}")
        lines = done.stdout.splitlines()
        if len(lines) < 2 or lines[0] in ("true", "false"):
            raise UsageError(
                f"{self.cwd} has no work tree (a bare repository?)",
                hint="run goship in a checkout, not in a bare repository",
            )
        if len(lines) >= 3:
            head = lines[2].strip()
        return RepoInfo(top=Path(lines[0]), shallow=lines[1].strip() == "true", head=head)

    def rev_parse(self, rev: str) -> str | None:
        """The commit ``rev`` names, or ``None`` when it names none."""
        done = self.run("rev-parse", "--verify", "-q", "--end-of-options", f"{rev}^{{commit}}", check=False)
        return done.stdout.strip() if done.ok else None

    def files(self, *pathspecs: str) -> list[str]:
        """Tracked and untracked-but-not-ignored files matching ``pathspecs``, relative to the top."""
        done = self.run("ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *pathspecs)
        return sorted({p for p in done.stdout.split("\0") if p})

    def commit_time(self, rev: str) -> int:
        """The committer time of ``rev``, in seconds since the epoch."""
        return int(self.run("show", "-s", "--format=%ct", f"{rev}^{{commit}}", "--").stdout.strip())

    def files_at(self, rev: str, *pathspecs: str) -> list[str]:
        """Files of commit ``rev`` matching ``pathspecs``, relative to the top."""
        done = self.run("ls-tree", "-r", "-z", "--name-only", "--full-tree", rev, "--", *pathspecs)
        return sorted(p for p in done.stdout.split("\0") if p)

    def show(self, rev: str, path: str) -> str | None:
        """The text of ``path`` (relative to the top) in commit ``rev``, or ``None`` when it has none."""
        done = self.run("show", f"{rev}:{path}", check=False)
        if done.ok:
            return done.stdout
        if "does not exist in" in done.stderr or "exists on disk, but not in" in done.stderr:
            return None
        raise GitError(f"git show {rev}:{path} failed: {_first_lines(done.stderr)}")

    def worktree_add(self, path: Path, rev: str) -> None:
        """A detached checkout of ``rev`` at ``path``, sharing this repository's objects."""
        self.run("worktree", "add", "--detach", "--quiet", str(path), rev)

    def worktree_remove(self, path: Path) -> None:
        self.run("worktree", "remove", "--force", str(path), check=False)
        self.run("worktree", "prune", check=False)

    def dirty_paths(self) -> list[str]:
        """What ``git status`` lists: modified, staged and untracked (not ignored) paths."""
        done = self.run("status", "--porcelain=v1", "-z")
        return [entry[3:] for entry in done.stdout.split("\0") if len(entry) > 3]

    def remote_url(self, remote: str) -> str | None:
        done = self.run("remote", "get-url", "--", remote, check=False)
        return done.stdout.strip() or None if done.ok else None

    # -- tags ------------------------------------------------------------------------------------

    def tags(self) -> list[TagRef]:
        """Every tag, with the commit it points at."""
        fmt = _FIELD.join(["%(refname:strip=2)", "%(objecttype)", "%(objectname)", "%(*objectname)"])
        done = self.run("for-each-ref", f"--format={fmt}", "refs/tags")
        out: list[TagRef] = []
        for line in done.stdout.splitlines():
            name, kind, obj, peeled = line.split(_FIELD)
            out.append(TagRef(name=name, commit=peeled or obj, annotated=kind == "tag"))
        return out

    def is_ancestor(self, commit: str, of: str) -> bool:
        """Whether ``commit`` is an ancestor of (or is) ``of``.

        One question at a time is cheaper than ``for-each-ref --merged``, which walks every tag.
        """
        done = self.run("merge-base", "--is-ancestor", commit, of, check=False)
        if done.returncode not in (0, 1):
            raise GitError(f"git merge-base --is-ancestor failed: {_first_lines(done.stderr)}")
        return done.returncode == 0

    def create_tag(self, name: str, commit: str, *, message: str, sign: bool) -> None:
        """An annotated (or signed) tag; git itself refuses to overwrite an existing one."""
        done = self.run(
            "tag", "-s" if sign else "-a", "-F", "-", "--cleanup=verbatim", name, commit, input=message
        )
        if sign and "-----BEGIN " not in self.run("cat-file", "tag", f"refs/tags/{name}").stdout:
            # Some git versions keep an unsigned tag and exit 0 when the signing program fails.
            self.delete_tag(name)
            raise GitError(
                f"git created {name} without a signature: {_first_lines(done.stderr)}",
                hint="check 'git config user.signingkey' and 'gpg.format' (and that the key exists)",
            )

    def delete_tag(self, name: str) -> None:
        self.run("tag", "-d", name)

    def push_refs(self, remote: str, refs: Sequence[str], *, atomic: bool = True) -> None:
        args = ["push", "--porcelain"]
        if atomic:
            args.append("--atomic")
        self.run(*args, remote, *refs)

    # -- history ---------------------------------------------------------------------------------

    def log(
        self,
        revs: Iterable[str],
        *,
        paths: Sequence[str] = (),
        exclude_paths: Sequence[str] = (),
    ) -> list[Commit]:
        """Commits reachable from ``revs`` (``^rev`` excludes), newest first, limited to the paths."""
        fmt = _RECORD + _FIELD.join(["%H", "%P", "%an", "%ae", "%B"])
        args = ["log", f"--format={fmt}", *revs, "--"]
        if paths or exclude_paths:
            args.extend(paths or ["."])
            args.extend(f":(exclude){p}" for p in exclude_paths)
        done = self.run(*args)
        commits: list[Commit] = []
        for record in done.stdout.split(_RECORD):
            if not record:
                continue
            sha, parents, name, email, message = record.split(_FIELD, 4)
            subject, _, body = message.strip("\n").partition("\n")
            commits.append(
                Commit(
                    sha=sha,
                    parents=tuple(parents.split()),
                    author_name=name,
                    author_email=email,
                    subject=subject.strip(),
                    body=body.strip(),
                )
            )
        return commits


def web_url(remote_url: str | None) -> str | None:
    """The https address of a repository from its remote URL (scp-like, ssh, https or git), or ``None``."""
    if not remote_url:
        return None
    url = remote_url.strip()
    m = re.match(r"^(?:ssh://)?[\w.-]+@(?P<host>[^:/]+)[:/](?:\d+/)?(?P<path>.+?)(?:\.git)?/?$", url)
    if not m:
        m = re.match(
            r"^(?:https?|git)://(?:[^@/]+@)?(?P<host>[^/:]+)(?::\d+)?/(?P<path>.+?)(?:\.git)?/?$", url
        )
    if not m:
        return None
    return f"https://{m.group('host')}/{m.group('path')}"


def _first_lines(text: str, limit: int = 5) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if len(lines) > limit:
        lines = [*lines[:limit], f"... ({len(lines) - limit} more lines)"]
    return "\n".join(lines) or "(no output)"
