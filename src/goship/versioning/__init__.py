"""Versioning: Go modules of a repository, their release tags, conventional commits, the next version,
release notes and tagging."""
