"""How every command reports a mistake the user can fix: ``error: <message>`` on stderr, exit
status 2 (argparse's own status for a bad flag), no traceback unless ``--debug``.

One exception type marks such mistakes (``UserError``: a missing input, a glob that matches
nothing, a folder of the wrong kind, a corrupted shard, a bad setting, an output folder that
holds another run); everything else is a bug and keeps its traceback. It lives here, in the
shared leaf package, because both sides raise it: the Beam jobs (pipeline -> transforms ->
schemas) and the trainer (trainer -> schemas), which must not import each other.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
from collections.abc import Callable, Iterator
from typing import NoReturn, TypeVar

DEBUG_FLAG = "--debug"
USER_ERROR_STATUS = 2
# What the DirectRunner appends to an exception raised inside a step: noise for a user.
_BEAM_STEP = re.compile(r"\s*\[while running '[^']*'\]\s*$")
_RAISED_AS = re.compile(r"^[\w.]+: ")  # "schemas.shards.ShardError: " before a message

T = TypeVar("T")


class UserError(ValueError):
    """Input or settings the user can fix; the message names the file, flag or folder.

    A ValueError, so code (and tests) that already catch ValueError for bad settings keep
    working when a check raises this instead.
    """


# Besides UserError: a path that does not exist or cannot be opened is always the user's.
# (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError.)
_PATH_ERRORS = (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)


class UserExit(SystemExit):
    """How a command ends after a user error: exit status 2. ``str()`` is the message already
    printed, so a caller in the same process (a test, a notebook) can still read why."""

    def __init__(self, message: str) -> None:
        super().__init__(USER_ERROR_STATUS)
        self.message = message

    def __str__(self) -> str:
        return self.message


class CommandParser(argparse.ArgumentParser):
    """argparse with our error format: a bad or missing flag is one line ``error: <message>``
    and exit status 2 (argparse's own prints the usage lines before it)."""

    def error(self, message: str) -> NoReturn:
        text = f"{message} (see {self.prog} --help)"
        print(f"error: {text}", file=sys.stderr, flush=True)
        raise UserExit(text)


def add_debug_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        DEBUG_FLAG, action="store_true", help="on an error, show the Python traceback"
    )


def wants_debug(argv: list[str]) -> bool:
    """``--debug`` among our flags (those before a ``--`` that starts pass-through flags)."""
    ours = argv[: argv.index("--")] if "--" in argv else argv
    return DEBUG_FLAG in ours


def error_message(exc: BaseException) -> str:
    """One line: the exception's message without Beam's step suffix (the file is named in it)."""
    text = str(exc).strip()
    if isinstance(exc, OSError) and exc.filename is not None:
        text = f"{exc.filename}: {exc.strerror or text}"
    lines = [line for line in text.splitlines() if line.strip()] or [type(exc).__name__]
    line = lines[0]
    if "Traceback (most recent call last)" in text:  # re-raised with a worker's traceback as
        line = _RAISED_AS.sub("", lines[-1])  # text (torch's DataLoader): its last line says why
    return _BEAM_STEP.sub("", line)


def run_command(main: Callable[[list[str]], T], argv: list[str] | None = None) -> T:
    """Run an entry point ``main(argv)`` as a command (``argv`` None: ``sys.argv[1:]``).

    A UserError (or an unreadable path) prints ``error: <message>`` on stderr and exits with
    status 2 (UserExit); with ``--debug`` it propagates with its traceback. Anything else
    propagates.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return main(argv)
    except (UserError, *_PATH_ERRORS) as exc:
        if wants_debug(argv):
            raise
        message = error_message(exc)
        print(f"error: {message}", file=sys.stderr, flush=True)
        raise UserExit(message) from None


@contextlib.contextmanager
def user_errors(*types: type[BaseException], prefix: str = "") -> Iterator[None]:
    """Re-raise ``types`` (e.g. a config's ValueError) as UserError within the block."""
    try:
        yield
    except UserError:
        raise
    except types as exc:
        raise UserError(f"{prefix}{error_message(exc)}") from exc
