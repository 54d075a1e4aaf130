"""Per-request flags split by the sections of a real llama-server --help (a recorded one)."""

from __future__ import annotations

from pathlib import Path

import pytest

from llamadash.core.agent_flags import AgentFlagsError, parse_sections, split_flags, variant_of
from llamadash.core.profiles import Profile, ProfileSet

HELP = parse_sections((Path(__file__).parent / "payloads" / "llama_server_help.txt").read_text())


def test_the_sections_come_from_the_help_text() -> None:
    assert HELP.section["--top-k"] == "sampling"
    assert HELP.section["--temp"] == HELP.section["--temperature"] == "sampling"
    assert HELP.section["--cache-type-k"] == "common"
    assert HELP.section["--ctx-size"] == HELP.section["-c"] == "common"
    assert "speculative" in set(HELP.section.values())


def test_sampling_flags_become_request_fields_under_llama_servers_names() -> None:
    flags = split_flags("--top-k 20 --temp=0.5 --ignore-eos --mirostat-ent 4 -n 16", HELP)
    assert flags.fields == {
        "top_k": 20,
        "temperature": 0.5,
        "ignore_eos": True,
        "mirostat_tau": 4,
        "n_predict": 16,
    }
    assert flags.startup == ()


def test_startup_flags_make_a_variant_named_by_their_hash() -> None:
    flags = split_flags("--cache-type-k q8_0 --top-k 20 -c 512 --swa-full", HELP)
    assert flags.fields == {"top_k": 20}
    assert flags.startup == (("--cache-type-k", "q8_0"), ("--swa-full",), ("-c", "512"))
    base = Profile("qwen", "Qwen", "qwen.gguf", ctx=4096, extra=("--jinja",))
    variant = variant_of(base, flags.startup)
    assert variant.id.startswith("qwen+") and len(variant.id) == len("qwen+") + 8
    assert variant.ctx == 512  # a profile key's flag sets the key
    assert variant.extra == ("--jinja", "--cache-type-k", "q8_0", "--swa-full")
    same = variant_of(base, split_flags("-c 512 --swa-full --cache-type-k q8_0", HELP).startup)
    assert same.id == variant.id  # the order of the flags does not matter
    profiles = ProfileSet(Path("models.conf"), (base,)).with_variant(variant)
    assert profiles.get(variant.id) == variant and profiles.profiles == (base,)
    reloaded = ProfileSet(Path("models.conf"), (Profile("qwen", "Qwen", "qwen.gguf", ctx=8192),))
    kept = reloaded.keeping_variants(profiles).get(variant.id)
    assert kept is not None and kept.ctx == 512 and kept.extra[-1] == "--swa-full"
    gone = ProfileSet(Path("models.conf"), ()).keeping_variants(profiles)
    assert gone.variants == ()


@pytest.mark.parametrize(
    ("header", "says"),
    [
        ("--top-kk 3", "did you mean --top-k"),
        ("--port 9999", "--port is set by llamadash"),
        ("--host 0.0.0.0", "--host is set by llamadash"),
        ("-m other.gguf", "--model is set by llamadash"),
        ("--api-key secret", "--api-key is refused"),
        ("20 --top-k", "'20' is a value without a flag"),
        ('--grammar "unclosed', "No closing quotation"),
    ],
)
def test_a_flag_that_cannot_be_applied_is_named(header: str, says: str) -> None:
    with pytest.raises(AgentFlagsError, match=says):
        split_flags(header, HELP)
