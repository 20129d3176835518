"""metrics.json's layout: indented, one line per innermost object, and read back exactly."""

from __future__ import annotations

import json
import math

from pebench.benchmark.run.record import json_layout

RECORD = {
    "task": "reverse_string",
    "positions": {"train": "plain", "eval": "plain", "randomized_max": None},
    "per_length": {
        "1": {"token_accuracy": 1.0, "exact_match": 1.0, "count": 32},
        "41": {"token_accuracy": 0.8374999761581421, "exact_match": 0.0, "count": 32},
    },
    "columns": [{"name": "ood", "lengths": [41, 100]}],
    "test": {"per_length": {"2": {"token_accuracy": math.pi}}},
    "empty": {},
    "name": "naïve",
}


def test_layout_reads_back_exactly() -> None:
    assert json.loads(json_layout(RECORD)) == RECORD


def test_innermost_objects_take_one_line_each() -> None:
    lines = json_layout(RECORD).splitlines()
    assert lines[0] == "{" and lines[-1] == "}"
    assert '  "positions": {"train": "plain", "eval": "plain", "randomized_max": null},' in lines
    row = '    "41": {"token_accuracy": 0.8374999761581421, "exact_match": 0.0, "count": 32}'
    assert row in lines
    assert '      "lengths": [41, 100]' in lines
    assert '      "2": {"token_accuracy": 3.141592653589793}' in lines
    assert '  "empty": {},' in lines


def test_scalars_and_flat_values_are_plain_json() -> None:
    assert json_layout(1.5) == "1.5"
    assert json_layout([1, 2]) == "[1, 2]"
    assert json_layout({"a": 1}) == '{"a": 1}'
