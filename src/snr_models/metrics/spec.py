"""The metric specification: which definition each component uses, and its weight.

A specification is a validated pydantic model, usually read from YAML::

    name: default
    components:
      S: {definition: net_satisfaction, weight: 0.4}   # or nps, csat_top2
      R: {definition: retention, weight: 0.3}
      E: {definition: sla, weight: 0.3}                # optional sla_hours_by_category: {...}

Weights must be non-negative and sum to 1; unknown keys and unknown definitions are rejected.
"""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from snr_models.data.contract import TICKET_CATEGORIES
from snr_models.errors import SnrInputError

#: The component symbols, in the order they appear everywhere (columns, tables, figures).
COMPONENTS: tuple[str, ...] = ("S", "R", "E")

_WEIGHT_TOLERANCE = 1e-9


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SatisfactionComponent(_Strict):
    """S, the satisfaction component.

    ``net_satisfaction``: share of responses with csat 4-5 minus share with csat 1-2;
    ``nps``: share with nps 9-10 minus share with nps 0-6;
    ``csat_top2``: share with csat 4-5.
    """

    definition: Literal["net_satisfaction", "nps", "csat_top2"] = "net_satisfaction"
    weight: float = Field(0.4, ge=0.0, allow_inf_nan=False)


class RetentionComponent(_Strict):
    """R, retention: ``1 - (12 / k) * exits / clients open on the period's first day``."""

    definition: Literal["retention"] = "retention"
    weight: float = Field(0.3, ge=0.0, allow_inf_nan=False)


class EfficiencyComponent(_Strict):
    """E, service efficiency: tickets resolved within their SLA over those resolved or overdue.

    ``sla_hours_by_category`` optionally maps a ticket category to an SLA target in hours that
    replaces the ticket's own ``sla_hours``; categories not listed keep their ``sla_hours``.
    """

    definition: Literal["sla"] = "sla"
    weight: float = Field(0.3, ge=0.0, allow_inf_nan=False)
    sla_hours_by_category: dict[str, float] | None = None

    @field_validator("sla_hours_by_category")
    @classmethod
    def _check_targets(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        if value is None:
            return value
        unknown = sorted(set(value) - set(TICKET_CATEGORIES))
        if unknown:
            raise ValueError(
                f"unknown ticket categories {unknown}; expected some of {sorted(TICKET_CATEGORIES)}"
            )
        bad = {k: v for k, v in value.items() if not (math.isfinite(v) and v > 0)}
        if bad:
            raise ValueError(f"SLA targets must be finite hours > 0, got {bad}")
        return value


class Components(_Strict):
    """The three components of the net rate."""

    S: SatisfactionComponent = SatisfactionComponent()
    R: RetentionComponent = RetentionComponent()
    E: EfficiencyComponent = EfficiencyComponent()


#: Each component definition in words, for reports and labels.
DEFINITION_NAMES: dict[str, str] = {
    "net_satisfaction": "net satisfaction",
    "nps": "NPS",
    "csat_top2": "CSAT top-two-box",
    "retention": "retention",
    "sla": "service efficiency",
}


class MetricSpec(_Strict):
    """A validated net-rate specification: per component a definition and a weight.

    ``net rate = sum(weight * component)``; weights are >= 0 and sum to 1.

    Examples
    --------
    >>> spec = MetricSpec.default()
    >>> spec.weights
    {'S': 0.4, 'R': 0.3, 'E': 0.3}
    >>> MetricSpec.model_validate(
    ...     {"components": {"S": {"definition": "nps", "weight": 0.5},
    ...                     "R": {"weight": 0.25}, "E": {"weight": 0.25}}}
    ... ).components.S.definition
    'nps'
    """

    name: str = "default"
    components: Components = Components()

    @model_validator(mode="after")
    def _weights_sum_to_one(self) -> MetricSpec:
        weights = self.weights
        total = sum(weights.values())
        if abs(total - 1.0) > _WEIGHT_TOLERANCE:
            terms = " + ".join(f"{c}={w:g}" for c, w in weights.items())
            raise ValueError(f"component weights must sum to 1, got {terms} = {total:g}")
        return self

    @property
    def weights(self) -> dict[str, float]:
        """The weight of each component, ``{"S": ..., "R": ..., "E": ...}``."""
        return {c: float(getattr(self.components, c).weight) for c in COMPONENTS}

    @property
    def definitions(self) -> dict[str, str]:
        """The definition of each component, ``{"S": "net_satisfaction", ...}``."""
        return {c: getattr(self.components, c).definition for c in COMPONENTS}

    def formula(self) -> str:
        """The net rate in words, e.g. ``0.4 × net satisfaction (S) + 0.3 × retention (R) + ...``.

        >>> MetricSpec.default().formula()
        '0.4 × net satisfaction (S) + 0.3 × retention (R) + 0.3 × service efficiency (E)'
        """
        return " + ".join(
            f"{w:g} × {DEFINITION_NAMES[self.definitions[c]]} ({c})"
            for c, w in self.weights.items()
        )

    @classmethod
    def from_yaml(cls, path: str | Path) -> MetricSpec:
        """Read and validate a specification from a YAML file.

        Raises
        ------
        SnrInputError
            If the file is missing, is not a YAML mapping, or does not validate; the message
            names the file and every offending field.
        """
        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise SnrInputError(f"metric specification {path}: file not found") from exc
        except yaml.YAMLError as exc:
            raise SnrInputError(f"metric specification {path}: invalid YAML: {exc}") from exc
        if not isinstance(raw, dict):
            raise SnrInputError(f"metric specification {path}: expected a mapping at top level")
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            raise SnrInputError(f"metric specification {path}: {_describe(exc)}") from exc

    @classmethod
    def default(cls) -> MetricSpec:
        """DESIGN.md's default specification (``default_spec.yaml``, shipped with the package)."""
        source = resources.files("snr_models.metrics").joinpath("default_spec.yaml")
        with resources.as_file(source) as path:
            return cls.from_yaml(path)


def _describe(exc: ValidationError) -> str:
    """One line per problem: ``components.S.weight: Input should be ...``."""
    problems = []
    for err in exc.errors():
        where = ".".join(str(part) for part in err["loc"]) or "(top level)"
        problems.append(f"{where}: {err['msg']}")
    return "; ".join(problems)


def resolve_spec(spec: MetricSpec | str | Path | dict | None) -> MetricSpec:
    """Turn ``None`` (the default), a YAML path, a mapping or a spec into a :class:`MetricSpec`."""
    if spec is None:
        return MetricSpec.default()
    if isinstance(spec, MetricSpec):
        return spec
    if isinstance(spec, str | Path):
        return MetricSpec.from_yaml(spec)
    if isinstance(spec, dict):
        try:
            return MetricSpec.model_validate(spec)
        except ValidationError as exc:
            raise SnrInputError(f"metric specification: {_describe(exc)}") from exc
    raise TypeError(f"spec must be a MetricSpec, a YAML path, a mapping or None, not {type(spec)}")
