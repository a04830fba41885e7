"""Dependency gates: go.mod, go.sum and vendor/ checks and diffs."""
