"""Untrusted text in MOS studies: rater names are cleaned when stored and escaped again in
every output (terminal, CSV, plot), so a name can neither drive the terminal (ANSI escapes,
newlines) nor run as a spreadsheet formula nor as matplotlib mathtext."""

from __future__ import annotations

import unicodedata

NAME_LENGTH = 60
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def clean_name(text: str) -> str:
    """A rater name as stored: NFC, control/format characters dropped, whitespace collapsed,
    at most ``NAME_LENGTH`` characters."""
    text = unicodedata.normalize("NFC", text)
    kept = "".join(" " if char.isspace() else char for char in text
                   if char.isspace() or unicodedata.category(char)[0] != "C")
    return " ".join(kept.split())[:NAME_LENGTH]


def safe_text(text: str) -> str:
    """``text`` with every non-printable character written as a visible escape (``\\x1b``)."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in str(text))


def csv_cell(text: str) -> str:
    """``safe_text`` that a spreadsheet will not evaluate (a leading = + - @ gets a quote)."""
    text = safe_text(text)
    return "'" + text if text.startswith(_FORMULA_START) else text


def plot_label(text: str) -> str:
    """``safe_text`` with matplotlib's mathtext ``$`` escaped."""
    return safe_text(text).replace("$", r"\$")
