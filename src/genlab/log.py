"""genlab's messages: the `genlab` logger and the one handler the CLI (or progress=True) installs.

Library code never prints: it logs to `logging.getLogger("genlab.<module>")`. A program
that configures logging itself gets genlab's messages through its own handlers. The
`genlab` command calls `configure` (-q: warnings only, -v: debug), and `genlab.train`
with progress on calls `show_messages`, which adds a handler only when nobody else has.
Messages are written through tqdm, so they do not break a progress bar.
"""

from __future__ import annotations

import logging
import sys

from tqdm import tqdm

LOGGER_NAME = "genlab"


class _ProgressFriendlyHandler(logging.Handler):
    """Writes each message on its own line above any running tqdm bar, on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # a logging handler must never raise into the caller
            self.handleError(record)


def configure(verbosity: int = 0) -> logging.Logger:
    """Show genlab's messages on stderr: -1 warnings only, 0 information, 1 debug details."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(logging.WARNING if verbosity < 0 else logging.DEBUG if verbosity > 0 else logging.INFO)
    if not any(isinstance(h, _ProgressFriendlyHandler) for h in logger.handlers):
        handler = _ProgressFriendlyHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.propagate = False  # the message is shown once, here
    return logger


def show_messages() -> None:
    """Make information messages visible when the program has not configured logging itself."""
    logger = logging.getLogger(LOGGER_NAME)
    if not logger.handlers and not logging.getLogger().handlers:
        configure(0)
