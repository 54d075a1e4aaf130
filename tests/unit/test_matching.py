"""resolve(): exact id → menu number → unique id prefix → unique substring → fuzzy."""

from __future__ import annotations

import pytest

from llamadash.core.matching import menu_number, resolve_profile
from llamadash.core.profiles import ProfileSet, UnknownProfileError, parse_profiles

CONF = """
[glm]
name = GLM 4.5 full
model = a.gguf

[glm-air]
name = GLM-4.5-Air 106B
model = b.gguf

[qwen3-coder]
name = Qwen3-Coder 30B-A3B
model = c.gguf

[coder]
name = Small Coder
model = d.gguf

[gemma-demo]
name = Gemma 3 270M (CPU demo)
model = e.gguf

[bench-qwen-128k]
name = Qwen at 128k (bench)
model = c.gguf
bench = true

[bench-gemma-4slots]
name = Gemma four slots (bench)
model = e.gguf
bench = true
"""
IDS = [
    "glm",
    "glm-air",
    "qwen3-coder",
    "coder",
    "gemma-demo",
    "bench-qwen-128k",
    "bench-gemma-4slots",
]


@pytest.fixture(scope="module")
def profiles() -> ProfileSet:
    ps = parse_profiles(CONF)
    assert [p.id for p in ps.profiles] == IDS
    return ps


def _resolve(ps: ProfileSet, query: str) -> str:
    found = ps.resolve(query)
    assert found is resolve_profile(ps, query)
    return found.id


def test_exact_id_wins_over_ambiguous_prefix(profiles: ProfileSet) -> None:
    # "glm" is also a prefix of "glm-air"; the exact id must win.
    assert _resolve(profiles, "glm") == "glm"
    assert _resolve(profiles, "glm-air") == "glm-air"
    assert _resolve(profiles, "coder") == "coder"  # also a substring of qwen3-coder


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("1", "glm"),
        ("2", "glm-air"),
        ("5", "gemma-demo"),
        (" 3 ", "qwen3-coder"),
        ("b1", "bench-qwen-128k"),
        ("b2", "bench-gemma-4slots"),
        ("B2", "bench-gemma-4slots"),
    ],
)
def test_menu_numbers(profiles: ProfileSet, query: str, expected: str) -> None:
    assert _resolve(profiles, query) == expected


@pytest.mark.parametrize("query", ["0", "6", "b0", "b3", "b", "-1"])
def test_out_of_range_menu_numbers_are_not_menu_numbers(profiles: ProfileSet, query: str) -> None:
    assert menu_number(profiles, query) is None


def test_out_of_range_number_is_an_error(profiles: ProfileSet) -> None:
    with pytest.raises(UnknownProfileError) as info:
        profiles.resolve("9")
    assert "Valid ids: " + ", ".join(IDS) in str(info.value)


def test_exact_id_wins_over_menu_number() -> None:
    ps = parse_profiles("[one]\nmodel = m\n[2]\nmodel = m\n[three]\nmodel = m\n")
    assert ps.resolve("2").id == "2"  # not the second profile ("2" itself)
    assert ps.resolve("1").id == "one"
    assert ps.resolve("3").id == "three"


def test_unique_id_prefix(profiles: ProfileSet) -> None:
    assert _resolve(profiles, "gem") == "gemma-demo"
    assert _resolve(profiles, "qwen3") == "qwen3-coder"
    assert _resolve(profiles, "bench-g") == "bench-gemma-4slots"
    # "cod" is a substring of qwen3-coder too, but the unique prefix decides first
    assert _resolve(profiles, "cod") == "coder"
    # prefixes are matched case-insensitively
    assert _resolve(profiles, "GEM") == "gemma-demo"


def test_unique_substring_of_id_or_name(profiles: ProfileSet) -> None:
    assert _resolve(profiles, "air") == "glm-air"  # in the id
    assert _resolve(profiles, "128k") == "bench-qwen-128k"
    assert _resolve(profiles, "270m") == "gemma-demo"  # only in the name, other case
    assert _resolve(profiles, "four SLOTS") == "bench-gemma-4slots"  # name, with a space
    assert _resolve(profiles, "Small") == "coder"


def test_ambiguous_substring_lists_candidates(profiles: ProfileSet) -> None:
    with pytest.raises(UnknownProfileError) as info:
        profiles.resolve("WEN")  # no id starts with it; two ids contain it
    err = info.value
    assert set(err.suggestions) == {"qwen3-coder", "bench-qwen-128k"}
    assert "'qwen3-coder'" in str(err)
    assert "'bench-qwen-128k'" in str(err)
    assert err.valid == tuple(IDS)


def test_ambiguous_prefix_falls_back_to_substring_and_reports(profiles: ProfileSet) -> None:
    with pytest.raises(UnknownProfileError) as info:
        profiles.resolve("bench")
    assert set(info.value.suggestions) == {"bench-qwen-128k", "bench-gemma-4slots"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [("gemma-dmo", "gemma-demo"), ("qwen3-codr", "qwen3-coder"), ("Gema-Dem", "gemma-demo")],
)
def test_close_typo_resolves_fuzzily(profiles: ProfileSet, query: str, expected: str) -> None:
    assert _resolve(profiles, query) == expected


def test_two_equally_near_ids_is_an_error_naming_both() -> None:
    ps = parse_profiles("[llama-7b]\nmodel = m\n[llama-8b]\nmodel = m\n[other]\nmodel = m\n")
    with pytest.raises(UnknownProfileError) as info:
        ps.resolve("llama-9b")
    message = str(info.value)
    assert message.startswith("unknown profile 'llama-9b'.")
    assert "Did you mean" in message
    assert "'llama-7b'" in message
    assert "'llama-8b'" in message
    assert set(info.value.suggestions) == {"llama-7b", "llama-8b"}
    assert message.endswith("Valid ids: llama-7b, llama-8b, other")


def test_far_typo_is_an_error_with_suggestion(profiles: ProfileSet) -> None:
    with pytest.raises(UnknownProfileError) as info:
        profiles.resolve("bench-gema")
    assert "bench-gemma-4slots" in info.value.suggestions
    assert "Did you mean 'bench-gemma-4slots'" in str(info.value)
    assert "Valid ids: " + ", ".join(IDS) in str(info.value)


def test_weak_fuzzy_match_is_only_suggested(profiles: ProfileSet) -> None:
    with pytest.raises(UnknownProfileError) as info:
        profiles.resolve("bench-qwn-4")
    assert "bench-qwen-128k" in info.value.suggestions
    assert "Did you mean 'bench-qwen-128k'" in str(info.value)


def test_unknown_without_near_match(profiles: ProfileSet) -> None:
    with pytest.raises(UnknownProfileError) as info:
        profiles.resolve("zzzz")
    message = str(info.value)
    assert info.value.suggestions == ()
    assert "Did you mean" not in message
    assert message == f"unknown profile 'zzzz'. Valid ids: {', '.join(IDS)}"


@pytest.mark.parametrize("query", ["", "   "])
def test_blank_query_is_unknown(profiles: ProfileSet, query: str) -> None:
    with pytest.raises(UnknownProfileError) as info:
        profiles.resolve(query)
    assert info.value.valid == tuple(IDS)


def test_unknown_profile_error_is_a_lookup_error(profiles: ProfileSet) -> None:
    with pytest.raises(LookupError):
        profiles.resolve("nothing-like-it")


def test_exact_id_ignores_case_before_prefix_rules() -> None:
    # Regression: "GLM" with profiles glm and glm-air was reported as ambiguous.
    ps = parse_profiles("[glm]\nmodel = a.gguf\n[glm-air]\nmodel = b.gguf\n")
    assert resolve_profile(ps, "GLM").id == "glm"


# --- a number is a menu number or an error, never part of a name ---------------------------

FIVE = """
[glm]
model = a.gguf
[llama-6b]
name = Llama 6B
model = b.gguf
[7b-chat]
model = c.gguf
[mistral]
name = Mistral (Q8_0, b3 build)
model = d.gguf
[phi]
model = e.gguf
[bench-one]
model = a.gguf
bench = true
[bench-two]
model = a.gguf
bench = true
"""


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("6", "no profile number 6: there are 5 (1–5). Did you mean 'llama-6b'?"),
        ("7", "no profile number 7: there are 5 (1–5). Did you mean '7b-chat'?"),
        ("0", "no profile number 0: there are 5 (1–5). Valid ids: glm,"),
        ("b3", "no bench profile b3: there are 2 (b1–b2). Valid ids: glm,"),
        ("B9", "no bench profile b9: there are 2 (b1–b2). Valid ids: glm,"),
    ],
)
def test_number_out_of_range_never_matches_a_name(query: str, message: str) -> None:
    # Regression: "6" picked llama-6b (part of its id), "7" the id 7b-chat (prefix) and "b3"
    # mistral (part of its name); a number is a menu number or an error.
    ps = parse_profiles(FIVE)
    with pytest.raises(UnknownProfileError) as info:
        ps.resolve(query)
    assert str(info.value).startswith(message)
    assert info.value.valid == tuple(p.id for p in ps.profiles)


def test_number_when_the_menu_is_empty_or_has_one_entry() -> None:
    ps = parse_profiles("[only]\nmodel = a.gguf\n")
    with pytest.raises(UnknownProfileError, match=r"^no profile number 2: there is only 1\."):
        ps.resolve("2")
    with pytest.raises(UnknownProfileError, match=r"^no bench profile b1: there are no bench"):
        ps.resolve("b1")


def test_an_id_that_is_a_number_still_matches_exactly() -> None:
    ps = parse_profiles(FIVE + "[6]\nmodel = f.gguf\n[b7]\nmodel = f.gguf\nbench = true\n")
    assert ps.resolve("6").id == "6"  # not menu number 6 (llama-6b's neighbour): the id
    assert ps.resolve("b7").id == "b7"
    assert ps.resolve("B7").id == "b7"  # exact id, ignoring case
    assert ps.resolve("5").id == "phi"


@pytest.mark.parametrize("query", ["²", "b²", "١"])
def test_non_ascii_digits_are_not_menu_numbers(query: str) -> None:
    # Regression: "²".isdigit() is true and int("²") raised ValueError out of resolve().
    ps = parse_profiles(FIVE)
    assert menu_number(ps, query) is None
    with pytest.raises(UnknownProfileError):
        ps.resolve(query)
