"""The one exception tree of buyerjourney.

::

    BuyerJourneyError                      base; never raised itself
    ├── InputError(…, ValueError)          bad user input: a value, an option, a file's content
    │   ├── QueryError                     a funnel or analysis query that breaks a rule
    │   ├── ConfigError                    journey.yaml / scoring config: names the file and dotted key
    │   ├── ImportFormatError              a file that cannot be read at all (nothing is imported)
    │   └── TimezoneError                  naive timestamps with no --timezone
    ├── NotFoundError(…, LookupError)      a file, store, column or entity that does not exist
    ├── StoreError                         the store cannot be opened or is of a newer schema
    └── AuthError                          a missing or wrong write key / API token

Each class has a stable ``code`` used by the CLI (exit status) and the HTTP server (status).
"""

from __future__ import annotations


class BuyerJourneyError(Exception):
    """Base of every error this package raises on purpose."""

    code = "error"
    http_status = 500
    exit_code = 1

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_dict(self) -> dict[str, str]:
        body = {"error": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        return body


class InputError(BuyerJourneyError, ValueError):
    """Raised when a value given by the user is not acceptable."""

    code = "invalid_input"
    http_status = 422
    exit_code = 2


class QueryError(InputError):
    """Raised when a funnel or analysis query breaks one of the rules of DESIGN section 3."""

    code = "invalid_query"


class ConfigError(InputError):
    """Raised when a config file is unreadable or a key in it is wrong; names the file and key."""

    code = "invalid_config"


class ImportFormatError(InputError):
    """Raised when an input file cannot be read at all; nothing from it is imported."""

    code = "unreadable_file"


class TimezoneError(InputError):
    """Raised when timestamps carry no zone and no --timezone was given."""

    code = "naive_timestamp"


class NotFoundError(BuyerJourneyError, LookupError):
    """Raised when a file, store, column or entity that was asked for does not exist."""

    code = "not_found"
    http_status = 404
    exit_code = 3


class StoreError(BuyerJourneyError):
    """Raised when the store cannot be opened, or was written by a newer schema version."""

    code = "store_error"
    http_status = 500
    exit_code = 4


class AuthError(BuyerJourneyError):
    """Raised when a write key or API token is missing or wrong."""

    code = "unauthorized"
    http_status = 401
    exit_code = 5
