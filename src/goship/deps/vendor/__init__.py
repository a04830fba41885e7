"""vendor/modules.txt, read and checked against go.mod the way the go command does it.

The format is what ``go mod vendor`` writes (cmd/go/internal/modcmd) and ``-mod=vendor`` reads
(cmd/go/internal/modload: ``readVendorList``, ``checkVendorConsistency``); lines are split on ``\\n``::

    # MODULE VERSION [=> REPLACEMENT [VERSION]]   a module version, possibly replaced
    # MODULE => REPLACEMENT [VERSION]             a wildcard (all versions) replace from go.mod
    ## explicit; go 1.N                           ';'-separated annotations of the module above
    IMPORT/PATH                                   a package vendored from the module above

The go command silently skips every line it does not understand; so does :func:`parse`, which lists them
in :attr:`VendorList.ignored` instead. :func:`check_consistency` makes the go command's consistency checks
for a single module (not a workspace) and reports one :class:`VendorFinding` per inconsistent module.
"""

from __future__ import annotations

from goship.deps.vendor._consistency import SYNC_HINT as SYNC_HINT
from goship.deps.vendor._consistency import (
    IssueKind,
    Replacement,
    Requirement,
    VendorFinding,
    VendorIssue,
    check_consistency,
)
from goship.deps.vendor._modules_txt import VENDOR_FILE as VENDOR_FILE
from goship.deps.vendor._modules_txt import (
    IgnoredLine,
    VendorError,
    VendorList,
    VendorModule,
    parse,
    parse_file,
)

__all__ = [
    "IgnoredLine",
    "IssueKind",
    "Replacement",
    "Requirement",
    "VendorError",
    "VendorFinding",
    "VendorIssue",
    "VendorList",
    "VendorModule",
    "check_consistency",
    "parse",
    "parse_file",
]
