"""events/ holds real-shaped samples: each is for one function, and some test hands it to that function."""

from pathlib import Path

import pytest

from tests.fixtures.events import EVENTS, SAMPLES

TESTS = Path(__file__).resolve().parents[1]
SAMPLE_FILES = sorted(path.name for path in EVENTS.iterdir())


def test_every_file_in_events_is_the_sample_of_exactly_one_function() -> None:
    listed = [name for names in SAMPLES.values() for name in names]

    assert sorted(listed) == SAMPLE_FILES


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_every_sample_is_named_by_a_test(name: str) -> None:
    # A sample no test names can rot unnoticed; this file only lists them, so it does not count.
    here = Path(__file__).resolve()
    users = [
        path.relative_to(TESTS)
        for path in sorted(TESTS.rglob("test_*.py"))
        if path.resolve() != here and f'"{name}"' in path.read_text(encoding="utf-8")
    ]

    assert users, f"events/{name} is used by no test"
