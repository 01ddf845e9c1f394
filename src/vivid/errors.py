"""The one exception type vivid raises for problems a user can fix (bad files, bad options)."""

from __future__ import annotations


class VividError(Exception):
    """A clear, one-line problem report, usually naming the file concerned.

    The CLI prints these as ``error: <message>`` without a traceback; anything else is a bug.
    """
