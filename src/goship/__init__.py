"""goship: one automated path from a Go commit to 100 % of production traffic.

The promised public API is :mod:`goship.semver`; other modules may be imported but are not promised.
"""

__version__ = "0.1.0"
