"""The report's words: business terms, names of programmes and segments, sentences, per language.

The defaults are ``labels/<language>.yaml`` beside this module; a run's configuration
(``report.labels``) overrides any entry. :class:`Labels` also formats numbers the way a manager
reads them: the net rate and shares in percent, changes in (percentage) points, with a fixed
number of decimals and no negative zero.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from importlib import resources
from typing import Any

import yaml

__all__ = ["LANGUAGES", "Labels", "level"]

LANGUAGES: tuple[str, ...] = ("zh-CN", "en")


def level(alpha: float) -> str:
    """An interval's confidence level in words: ``level(0.05) == "95%"``, ``"97.5%"``, ..."""
    return f"{100 * (1 - alpha):.4g}%"


def _defaults(language: str) -> dict[str, dict[str, str]]:
    if language not in LANGUAGES:
        raise ValueError(f"report language {language!r}: expected one of {', '.join(LANGUAGES)}")
    text = resources.files(__package__).joinpath(f"labels/{language}.yaml").read_text("utf-8")
    return yaml.safe_load(text)


class Labels:
    """The words of one language, with the configuration's overrides.

    Parameters
    ----------
    language : {"zh-CN", "en"}
    overrides : mapping, optional
        ``{section: {key: text}}``, e.g. ``{"interventions": {"staff_training": "员工培训"}}``.
    """

    def __init__(self, language: str, overrides: Mapping[str, Mapping[str, str]] | None = None):
        self.language = language
        self._words = _defaults(language)
        for section, entries in (overrides or {}).items():
            self._words.setdefault(section, {}).update({str(k): str(v) for k, v in entries.items()})

    def text(self, key: str, **values: Any) -> str:
        """A sentence or heading of the page, with ``{placeholders}`` filled."""
        return self._words["text"][key].format(**values)

    def name(self, code: object, *sections: str) -> str:
        """The business name of a code (``staff_training`` → 员工培训): looked up in
        ``sections`` (default: every section), else the code with spaces for ``_``."""
        code = str(code)
        for section in sections or (
            "terms",
            "interventions",
            "scenarios",
            "segments",
            "attributes",
            "tables",
            "metrics",
            "quadrants",
        ):
            found = self._words.get(section, {}).get(code)
            if found is not None:
                return found
        return code.replace("_", " ")

    def phrase(self, text: str) -> str:
        """A figure's text in this language (unchanged when no translation is listed)."""
        return self._words.get("phrases", {}).get(text, text)

    def phrases(self) -> dict[str, str]:
        """Every listed figure text and code with its translation (for relabelling figures)."""
        out: dict[str, str] = {}
        for section in (
            "terms",
            "channels",
            "interventions",
            "scenarios",
            "segments",
            "attributes",
        ):
            out.update(self._words.get(section, {}))
        out.update(self._words.get("phrases", {}))
        return out

    # numbers -----------------------------------------------------------------------------
    @staticmethod
    def _fixed(value: float, decimals: int, sign: bool = False) -> str:
        if value is None or not math.isfinite(value):
            return "—"
        out = f"{value:+.{decimals}f}" if sign else f"{value:.{decimals}f}"
        zero = f"{0:.{decimals}f}"
        return zero if out.lstrip("+-") == zero else out  # no "-0.0"

    def pct(self, share: float, decimals: int = 1) -> str:
        """A rate or share in percent: ``0.8123`` → ``81.2%``."""
        out = self._fixed(100 * share if share is not None else math.nan, decimals)
        return out if out == "—" else out + "%"

    def points(self, change: float, decimals: int = 1, *, words: bool = True) -> str:
        """A change of a rate in percentage points: ``0.129`` → ``+12.9 points``."""
        out = self._fixed(100 * change if change is not None else math.nan, decimals, sign=True)
        return self.text("points", value=out) if words and out != "—" else out

    def number(self, value: float, decimals: int = 2, *, sign: bool = False) -> str:
        """A plain number with fixed decimals (``—`` when missing)."""
        return self._fixed(value, decimals, sign=sign)
