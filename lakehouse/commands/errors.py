"""A person's mistake, told in one line: ``lakehouse: error: <what> — fix: <what to do>``.

- ``UserError(what, fix)``: raised by a command for a mistake in what a person asked for (an
  unknown tenant, table, SQL that does not parse, a setting); ``lakehouse.cli.main`` prints it as
  one line on stderr and exits 2 (the traceback only with ``--debug``).
- ``user_error(err)``: the ``UserError`` for an exception, or None for one that is not a
  person's mistake (a bug: the traceback is printed, exit 1). Besides ``UserError`` itself, a
  ``ValueError`` or ``LookupError`` written for a person in the project's convention
  ``"<what> — fix: <fix>"`` (settings such as an unknown ``LAKEHOUSE_DATASETS`` name, a
  ``dsn_env`` that is not set, selection rules that match no table), and a source database that
  refuses the connection (psycopg's ``OperationalError``: its first line, which names the server,
  never the password).
"""

from __future__ import annotations

import re

FIX = " — fix: "
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class UserError(Exception):
    """A mistake in what a person asked for, with what to do about it."""

    def __init__(self, what: str, fix: str) -> None:
        self.what, self.fix = one_line(what), one_line(fix)
        super().__init__(f"{self.what}{FIX}{self.fix}")


def user_error(err: BaseException) -> UserError | None:
    if isinstance(err, UserError):
        return err
    if isinstance(err, ValueError | LookupError) and FIX in str(err):
        what, _, fix = str(err).partition(FIX)
        return UserError(what, fix)
    if type(err).__name__ == "OperationalError" and type(err).__module__.startswith("psycopg"):
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return UserError(
            f"cannot connect to the source database: {first}",
            "check the dataset's DSN variable (dsn_env) names the right host, port, database and"
            " user, and that the server is running; `lakehouse doctor NAME` checks the rest",
        )
    return None


def one_line(text: str) -> str:
    """The lines of a message up to its first blank line or SQL excerpt (DuckDB's ``LINE 1:``,
    sqlglot's underlined statement), joined into one line."""
    kept = []
    for line in _ANSI.sub("", str(text)).splitlines():
        if not line.strip() or line.startswith(("LINE ", "  ")):
            if kept:
                break
            continue
        kept.append(line.strip())
    return " ".join(kept) or str(text).strip()
