import math

import pytest

from offerlab.definitions.yaml_source import read_yaml

SCALARS = [
    ("no", "no"),
    ("yes", "yes"),
    ("on", "on"),
    ("off", "off"),
    ("True", True),
    ("false", False),
    ("~", None),
    ("null", None),
    ("012", 12),
    ("0o12", 10),
    ("0x1F", 31),
    ("-7", -7),
    ("1.5", 1.5),
    ("1e3", 1000.0),
    ("-.inf", -math.inf),
    ("'012'", "012"),
    ("2024-01-31", "2024-01-31"),
]


@pytest.mark.parametrize(("text", "expected"), SCALARS)
def test_scalars_follow_yaml_1_2(text: str, expected: object) -> None:
    value = read_yaml(f"value: {text}\n").data["value"]

    assert value == expected
    assert type(value) is type(expected)


def test_nan_is_read_as_a_float() -> None:
    assert math.isnan(read_yaml("value: .nan\n").data["value"])


def test_every_location_has_its_line() -> None:
    document = read_yaml("a: 1\nlist:\n  - x: 1\n\n    y:\n      z: 2\n  - plain\n")

    assert document.lines == {
        (): 1,
        ("a",): 1,
        ("list",): 2,
        ("list", 0): 3,
        ("list", 0, "x"): 3,
        ("list", 0, "y"): 5,
        ("list", 0, "y", "z"): 6,
        ("list", 1): 7,
    }
    assert document.line_of(("list", 0, "y", "missing")) == 5
    assert document.line_of(("absent",)) == 1


def test_duplicate_keys_are_all_reported_and_the_first_value_kept() -> None:
    document = read_yaml("a: 1\nb: 2\na: 3\nb: 4\n")

    assert document.data == {"a": 1, "b": 2}
    assert [(issue.line, issue.location, issue.message) for issue in document.issues] == [
        (3, ("a",), "duplicate key (first defined on line 1)"),
        (4, ("b",), "duplicate key (first defined on line 2)"),
    ]


def test_folded_text_is_joined_with_spaces() -> None:
    document = read_yaml("text: >\n  one\n  two\n")

    assert document.data == {"text": "one two\n"}


def test_syntax_error_names_its_line() -> None:
    document = read_yaml("a: [1, 2\nb: 3\n")

    (issue,) = document.issues
    assert issue.line == 2
    assert issue.message.startswith("invalid YAML: ")


def test_second_document_is_rejected() -> None:
    document = read_yaml("a: 1\n---\nb: 2\n")

    assert [(issue.line, issue.message) for issue in document.issues] == [
        (3, "only one YAML document per file is allowed")
    ]


def test_unknown_tag_is_reported() -> None:
    document = read_yaml("a: !price 3\n")

    assert [(issue.line, issue.message) for issue in document.issues] == [
        (1, "unsupported YAML tag !price")
    ]


def test_recursive_alias_is_reported_not_followed() -> None:
    document = read_yaml("a: &loop\n  b: *loop\n")

    assert [issue.message for issue in document.issues] == ["recursive alias is not allowed"]


def test_aliases_copy_values() -> None:
    document = read_yaml("base: &offer {price: 5}\nother: *offer\n")

    assert document.data == {"base": {"price": 5}, "other": {"price": 5}}
    assert document.issues == []
