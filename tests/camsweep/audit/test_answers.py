"""The answer file: the documented example loads; every error names file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camsweep.audit.answers import TECHNOLOGIES, load_answers, parse_answers
from fingerprints.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "survey-answers.yaml"


def test_documented_example_loads_every_technology() -> None:
    answers = load_answers(EXAMPLE)
    assert list(answers.technologies) == list(TECHNOLOGIES)
    internal = answers.technologies["internal_cctv"]
    assert internal.manufacturers == ("Axis", "Hikvision") and internal.approximate_count == 40
    [unit] = answers.technologies["external_cctv"].standalone_units
    assert unit.firmware_updated == "never" and unit.mac == "ac:cc:8e:00:00:01"
    assert answers.site_placement == {"hq": "internal", "perimeter": "external"}
    text = EXAMPLE.read_text(encoding="utf-8")
    assert internal.lines["manufacturers"] == next(
        i for i, line in enumerate(text.splitlines(), 1) if "manufacturers: [Axis, Hikvision]" in line
    )
    assert "police-survey-2022" in text  # the example names its source


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        ("force: F\ntechnologies:\n  cctv: {in_use: true}\n", 3, "technologies.cctv", "unknown field"),
        (
            "force: F\ntechnologies:\n  anpr:\n    in_use: yes please\n",
            4,
            "technologies.anpr.in_use",
            "true, false",
        ),
        (
            "force: F\ntechnologies:\n  anpr:\n    approximate_count: -3\n",
            4,
            "approximate_count",
            "whole number",
        ),
        (
            "force: F\ntechnologies:\n  anpr:\n    connectivity: wifi\n",
            4,
            "connectivity",
            "networked, standalone, both",
        ),
        (
            "force: F\ntechnologies:\n  drones:\n    colour: red\n",
            4,
            "technologies.drones.colour",
            "unknown field",
        ),
        (
            "force: F\ntechnologies:\n  drones:\n    standalone_units:\n      - name: a\n        firmware_updated: last week\n",
            6,
            "standalone_units.0.firmware_updated",
            "YYYY-MM-DD",
        ),
        ("force: F\nnetworks:\n  hq: [10.0.0.0/33]\n", 3, "networks.hq.0", "not a network"),
        ("technologies: {}\n", 1, "force", "required"),
        ("force: F\ncount_tolerance_percent: 400\n", 2, "count_tolerance_percent", "0 to 100"),
        ("force: F\nsite_placement: {hq: roof}\n", 2, "site_placement.hq", "internal, external"),
    ],
)
def test_errors_name_file_line_and_field(text: str, line: int, field: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_answers(text, "answers.yaml")
    error = str(info.value)
    assert error.startswith(f"answers.yaml:{line}: ") and field in error and message in error, error


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("force: F\ntechnologies:\n  anpr: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"^{path}:\d+: not valid YAML"):
        load_answers(path)


def test_unreadable_and_oversized_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        load_answers(tmp_path / "missing.yaml")
    big = tmp_path / "big.yaml"
    big.write_text("force: F\n# " + "x" * (1024 * 1024) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="too big"):
        load_answers(big)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300))
def test_any_text_parses_or_fails_with_config_error(text: str) -> None:
    try:
        parse_answers(text, "fuzz.yaml")
    except ConfigError as exc:
        assert str(exc).startswith("fuzz.yaml")
