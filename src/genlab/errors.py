"""Errors a user can act on.

Every problem caused by input (a dataset name, a path, a config key, a damaged file)
is raised as a `GenlabError` whose message is one line naming the problem and what to
do about it. The CLI prints that line and exits with `exit_code`; Python callers can
catch the class.
"""

from __future__ import annotations


class GenlabError(ValueError):
    """A problem with the user's input or environment, described in one line.

    A ValueError, so that callers written for scikit-learn-style estimators catch it too.
    """

    exit_code = 2

    def __init__(self, message: object = "", *args: object):
        super().__init__(" ".join(str(message).split()), *args)  # one line, whatever a path or a value held


class DataUnavailableError(GenlabError):
    """Dataset files are missing and could not be downloaded."""


class ChecksumError(GenlabError):
    """A dataset file does not have the content it should have."""


class TrainingDivergedError(GenlabError):
    """The loss became NaN or infinite; the last good checkpoint was left untouched."""

    exit_code = 1
