"""MetricSpec: the default (DESIGN.md's table), YAML reading, and clear validation errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from snr_models.errors import SnrInputError
from snr_models.metrics import MetricSpec
from snr_models.metrics.spec import resolve_spec


def test_default_is_designs_table() -> None:
    # DESIGN.md, "The net rate": S net satisfaction 0.4, R retention 0.3, E SLA 0.3.
    spec = MetricSpec.default()
    assert spec.weights == {"S": 0.4, "R": 0.3, "E": 0.3}
    assert spec.definitions == {"S": "net_satisfaction", "R": "retention", "E": "sla"}
    assert spec.components.E.sla_hours_by_category is None


def test_yaml_round_trip(tmp_path: Path) -> None:
    # Values written in the file are the values read back.
    path = tmp_path / "spec.yaml"
    path.write_text(
        "name: nps_variant\n"
        "components:\n"
        "  S: {definition: nps, weight: 0.5}\n"
        "  R: {definition: retention, weight: 0.2}\n"
        "  E:\n"
        "    definition: sla\n"
        "    weight: 0.3\n"
        "    sla_hours_by_category: {complaint: 48, margin_call: 2.5}\n"
    )
    spec = MetricSpec.from_yaml(path)
    assert spec.name == "nps_variant"
    assert spec.weights == {"S": 0.5, "R": 0.2, "E": 0.3}
    assert spec.components.S.definition == "nps"
    assert spec.components.E.sla_hours_by_category == {"complaint": 48.0, "margin_call": 2.5}
    assert resolve_spec(str(path)) == spec
    assert MetricSpec.model_validate(spec.model_dump()) == spec


def test_weights_not_summing_to_one_is_a_clear_error(tmp_path: Path) -> None:
    # 0.5 + 0.3 + 0.3 = 1.1: the message names every weight and the sum.
    with pytest.raises(
        ValidationError, match=r"weights must sum to 1, got S=0.5 \+ R=0.3 \+ E=0.3"
    ):
        MetricSpec.model_validate({"components": {"S": {"weight": 0.5}}})
    path = tmp_path / "bad.yaml"
    path.write_text("components:\n  S: {weight: 0.5}\n")
    with pytest.raises(
        SnrInputError,
        match=r"bad\.yaml: \(top level\): Value error, component weights must sum to 1, .* = 1\.1$",
    ):
        MetricSpec.from_yaml(path)


def test_negative_weight_rejected() -> None:
    # weights must be >= 0 even when they sum to 1 (-0.1 + 0.8 + 0.3 = 1).
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        MetricSpec.model_validate({"components": {"S": {"weight": -0.1}, "R": {"weight": 0.8}}})


def test_unknown_definition_names_the_choices() -> None:
    with pytest.raises(ValidationError, match=r"components\.S\.definition[\s\S]*'nps'"):
        MetricSpec.model_validate({"components": {"S": {"definition": "ces"}}})
    with pytest.raises(ValidationError, match=r"components\.R\.definition"):
        MetricSpec.model_validate({"components": {"R": {"definition": "churn"}}})


def test_unknown_keys_rejected() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        MetricSpec.model_validate({"components": {"S": {"wieght": 0.4}}})
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        MetricSpec.model_validate({"components": {"X": {}}})
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        MetricSpec.model_validate({"weights": [0.4, 0.3, 0.3]})


def test_sla_targets_validated() -> None:
    with pytest.raises(ValidationError, match=r"unknown ticket categories \['complaints'\]"):
        MetricSpec.model_validate(
            {"components": {"E": {"sla_hours_by_category": {"complaints": 4}}}}
        )
    with pytest.raises(ValidationError, match="finite hours > 0"):
        MetricSpec.model_validate(
            {"components": {"E": {"sla_hours_by_category": {"complaint": 0}}}}
        )


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(SnrInputError, match="file not found"):
        MetricSpec.from_yaml(tmp_path / "nope.yaml")
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n")
    with pytest.raises(SnrInputError, match="expected a mapping"):
        MetricSpec.from_yaml(path)
    with pytest.raises(TypeError, match="spec must be"):
        resolve_spec(42)  # type: ignore[arg-type]


def test_spec_is_immutable() -> None:
    spec = MetricSpec.default()
    with pytest.raises(ValidationError):
        spec.components.S.weight = 0.9  # type: ignore[misc]


def test_yaml_errors_name_the_field(tmp_path: Path) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text("components:\n  S: {definition: promoter_score}\n")
    with pytest.raises(SnrInputError, match=r"typo\.yaml: components\.S\.definition: Input should"):
        MetricSpec.from_yaml(path)
    with pytest.raises(SnrInputError, match=r"components\.E\.weight: Input should be greater"):
        resolve_spec({"components": {"E": {"weight": -1}}})
