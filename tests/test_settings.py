"""Generation settings validation and the stop-sequence filter every backend shares."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nbchat import GenerationSettings
from nbchat._settings import renamed_history
from nbchat.backends import StopSequenceFilter


def test_defaults_and_greedy() -> None:
    s = GenerationSettings()
    assert (s.max_new_tokens, s.temperature, s.top_p, s.stop) == (256, 0.7, 1.0, ())
    assert GenerationSettings(temperature=0).greedy


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("max_new_tokens", 0, ValueError),
        ("max_new_tokens", -5, ValueError),
        ("max_new_tokens", 2.5, TypeError),
        ("temperature", 50, ValueError),
        ("temperature", -0.1, ValueError),
        ("top_p", 0, ValueError),
        ("stop", [""], TypeError),
    ],
)
def test_out_of_range_settings_say_the_range(field: str, value: object, error: type[Exception]) -> None:
    with pytest.raises(error, match=field):
        GenerationSettings(**{field: value})  # type: ignore[arg-type]


def test_stop_string_is_a_single_string() -> None:
    assert GenerationSettings(stop="\nUser:").stop == ("\nUser:",)  # type: ignore[arg-type]


def feed_all(stop: list[str], chunks: list[str]) -> str:
    f = StopSequenceFilter(stop)
    out = "".join(f.feed(c) for c in chunks)
    return out + f.flush()


def test_stop_sequence_split_across_chunks_is_removed() -> None:
    assert feed_all(["\nUser:"], ["Lions.", "\nUs", "er: what", " next"]) == "Lions."


def test_prefix_that_never_completes_is_released() -> None:
    assert feed_all(["\nUser:"], ["a\nUs", "ually b"]) == "a\nUsually b"


@given(
    text=st.text(max_size=60),
    stop=st.lists(st.text(min_size=1, max_size=5), max_size=3),
    cuts=st.lists(st.integers(min_value=0, max_value=60), max_size=8),
)
def test_filter_equals_cutting_at_first_stop(text: str, stop: list[str], cuts: list[int]) -> None:
    bounds = sorted({0, len(text), *(c for c in cuts if c <= len(text))})
    chunks = [text[a:b] for a, b in itertools.pairwise(bounds)]
    positions = [text.find(s) for s in stop if s in text]
    expected = text[: min(positions)] if positions else text
    assert feed_all(stop, chunks) == expected


def test_history_is_renamed_to_use_history_with_a_warning() -> None:
    with pytest.warns(DeprecationWarning, match="use use_history="):
        assert renamed_history({"history": False, "temperature": 0}) == {"temperature": 0, "use_history": False}
    assert renamed_history({"use_history": True}) == {"use_history": True}  # the new name: no warning
    with pytest.raises(TypeError, match="use_history= only"):
        renamed_history({"history": False, "use_history": True})
