"""Project error types.

Every error raised on bad input names the offending key, file or row, so that a user can fix it
without reading a traceback.
"""


class GoodBadGreedyError(Exception):
    """Base class of all errors this package raises on purpose."""


class ConfigError(GoodBadGreedyError):
    """params.yaml (or an override) is malformed; the message names the key."""


class DataError(GoodBadGreedyError):
    """A data file is missing, corrupt or malformed; the message names the file and row."""


class ModelLoadError(GoodBadGreedyError):
    """A model could not be loaded (missing file, offline hub, bad folder)."""


class ValidationError(GoodBadGreedyError):
    """A stage's table failed its data-validation suite; the message names columns and rows.

    Attributes:
        result: the full validation result (a JSON-ready dict) when the suite ran, else None.
    """

    result: dict | None = None


class BackendError(GoodBadGreedyError):
    """A generation backend failed (server error, unsupported parameter)."""
