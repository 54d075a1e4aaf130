"""llama-server --help parsing, unknown-flag checks and the on-disk flag cache."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from llamadash.core.flags import (
    FlagCache,
    describe_unknown,
    flag_name,
    parse_help,
    unknown_flags,
)
from llamadash.core.profiles import OWNED_FLAGS
from tests.conftest import missing

CACHE = Path(os.environ.get("LLAMADASH_CACHE", Path.home() / ".cache" / "llamadash"))

# Verbatim layout of `llama-server --help` (recent builds): short flags padded after the comma.
HELP = """\
----- common params -----

-h,    --help, --usage                  print usage and exit
--version                               show version and build info
-t,    --threads N                      number of CPU threads to use during generation (default: -1)
                                        (env: LLAMA_ARG_THREADS)
-c,    --ctx-size N                     size of the prompt context (default: 4096, 0 = loaded from
                                        model)
-m,    --model FNAME                    model path (default: `models/$filename` with filename from
                                        `--hf-file` or `--model-url` if set, otherwise
                                        models/7B/ggml-model-f16.gguf)
-b,    --batch-size N                   logical maximum batch size (default: 2048)
-ub,   --ubatch-size N                  physical maximum batch size (default: 512)
-fa,   --flash-attn [on|off|auto]       set Flash Attention use ('on', 'off', or 'auto', default:
                                        'auto')
                                        (env: LLAMA_ARG_FLASH_ATTN)
--mmap, --no-mmap                       whether to memory-map model (if mmap disabled, slower load
                                        but may reduce pageouts if not using mlock)
-ctk,  --cache-type-k TYPE              KV cache data type for K
                                        allowed values: f32, f16, bf16, q8_0, q4_0, q4_1, iq4_nl,
                                        q5_0, q5_1
                                        (default: f16)
--load-mode MODE                        how to load the model (default: auto)
                                        - auto: mmap, unless a device does not support it
                                        - none: no special loading mode
-ot,   --override-tensor <tensor name pattern>=<buffer type>,...
                                        override tensor buffer type
-ngl,  --gpu-layers, --n-gpu-layers N   max. number of layers to store in VRAM (default: auto)
-ncmoe, --n-cpu-moe N                   keep the MoE weights of the first N layers in the CPU


----- example-specific params -----

--jinja, --no-jinja                     whether to use jinja template engine for chat (default:
                                        enabled)
--metrics                               enable prometheus compatible metrics endpoint (default:
                                        disabled)
-a,    --alias STRING                   set alias for model name (to be used by REST API)
--host HOST                             ip address to listen, or bind to an UNIX socket if the
                                        address ends with .sock (default: 127.0.0.1)
--port PORT                             port to listen (default: 8080)
"""

EXPECTED = {
    "-h",
    "--help",
    "--usage",
    "--version",
    "-t",
    "--threads",
    "-c",
    "--ctx-size",
    "-m",
    "--model",
    "-b",
    "--batch-size",
    "-ub",
    "--ubatch-size",
    "-fa",
    "--flash-attn",
    "--mmap",
    "--no-mmap",
    "-ctk",
    "--cache-type-k",
    "--load-mode",
    "-ot",
    "--override-tensor",
    "-ngl",
    "--gpu-layers",
    "--n-gpu-layers",
    "-ncmoe",
    "--n-cpu-moe",
    "--jinja",
    "--no-jinja",
    "--metrics",
    "-a",
    "--alias",
    "--host",
    "--port",
}


def test_parse_help_finds_exactly_the_flags() -> None:
    assert parse_help(HELP) == EXPECTED


def test_parse_help_reads_long_names_after_padded_short_ones() -> None:
    flags = parse_help("-m,    --model FNAME                    model path\n")
    assert flags == {"-m", "--model"}


def test_parse_help_ignores_descriptions_and_placeholders() -> None:
    flags = parse_help(HELP)
    # words in the description column, value placeholders and section rulers are not flags
    assert "--hf-file" not in flags
    assert "--model-url" not in flags
    assert "--no-warmup" not in flags
    assert not any(f.startswith("-----") for f in flags)
    assert "FNAME" not in flags


def test_parse_help_of_nothing() -> None:
    assert parse_help("") == frozenset()
    assert parse_help("error: unknown option\n") == frozenset()


def test_server_args_of_real_profiles_are_all_known() -> None:
    from llamadash.core.profiles import load_profiles

    repo = Path(__file__).resolve().parents[2]
    known = parse_help(HELP) | {"--cache-type-v", "--parallel"}
    for profile in load_profiles(repo / "models.conf").profiles:
        args = profile.server_args("/models/x.gguf")
        assert unknown_flags(args, known) == [], profile.id


def test_unknown_flags_ignores_values_and_negative_numbers() -> None:
    args = [
        "--model",
        "/models/m.gguf",
        "--n-gpu-layers",
        "-1",
        "--threads",
        "-2",
        "--flash-attn",
        "on",
        "-ot",
        r"blk\.(2[4-9])\.ffn_.*_exps\.=CPU",
        "--alias",
        "-",
        "-c",
        "-4096",
        "--ctx-size=4096",
        "--batch-size",
        "-1.5e3",
    ]
    assert unknown_flags(args, EXPECTED) == []


def test_unknown_flags_catches_a_typo_with_suggestion() -> None:
    problems = unknown_flags(["--jinja", "--flash-atn", "on", "--ctx-size", "10"], EXPECTED)
    assert [flag for flag, _ in problems] == ["--flash-atn"]
    assert problems[0][1][0] == "--flash-attn"
    message = describe_unknown(problems)
    assert message.startswith("llama-server does not accept --flash-atn (did you mean")
    assert "--flash-attn" in message


def test_unknown_flags_checks_the_name_before_equals() -> None:
    problems = unknown_flags(["--ctx-sise=4096"], EXPECTED)
    assert problems[0][0] == "--ctx-sise"
    assert "--ctx-size" in problems[0][1]


def test_unknown_flag_without_any_near_match() -> None:
    problems = unknown_flags(["--zzzzzzzzzz"], EXPECTED)
    assert problems == [("--zzzzzzzzzz", [])]
    assert describe_unknown(problems) == "llama-server does not accept --zzzzzzzzzz"


def test_flag_cache_fetches_once_then_reads_disk(tmp_path: Path) -> None:
    calls: list[int] = []

    def fetch() -> str:
        calls.append(1)
        return HELP

    cache = FlagCache(tmp_path)
    assert cache.known_flags("image:sha256:abc", fetch) == EXPECTED
    assert cache.known_flags("image:sha256:abc", fetch) == EXPECTED
    assert len(calls) == 1
    # a fresh cache object (a new llamadash run) reads the same file
    assert FlagCache(tmp_path).known_flags("image:sha256:abc", fetch) == EXPECTED
    assert len(calls) == 1
    stored = list((tmp_path / "flags").iterdir())
    assert len(stored) == 1
    assert stored[0].read_text() == HELP
    # another binary/image has its own entry
    assert cache.known_flags("/opt/llama-server:123", fetch) == EXPECTED
    assert len(calls) == 2
    assert len(list((tmp_path / "flags").iterdir())) == 2


def test_flag_cache_unknown_when_fetch_fails(tmp_path: Path) -> None:
    calls: list[int] = []

    def fetch() -> None:
        calls.append(1)

    cache = FlagCache(tmp_path)
    assert cache.known_flags("k", fetch) is None
    assert cache.known_flags("k", fetch) is None
    assert len(calls) == 2  # nothing was cached, so it is retried
    assert not (tmp_path / "flags").exists()


# --- the real binary -------------------------------------------------------------------------


def _real_binary() -> Path | None:
    explicit = os.environ.get("LLAMA_SERVER")
    if explicit and Path(explicit).is_file():
        return Path(explicit)
    built = sorted(CACHE.glob("llama-server/*/llama-server"))
    return built[-1] if built else None


def test_real_llama_server_help() -> None:
    binary = _real_binary()
    if binary is None:
        missing(f"a llama-server binary under {CACHE}/llama-server/*/", "make testbed builds it")
    result = subprocess.run(
        [str(binary), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    text = result.stdout + result.stderr
    flags = parse_help(text)
    for flag in (
        "--model",
        "--ctx-size",
        "--override-tensor",
        "--n-gpu-layers",
        "--jinja",
        "--metrics",
        "--flash-attn",
        "--alias",
        "--batch-size",
        "--ubatch-size",
        "--threads",
        "--parallel",
        "-m",
        "-ot",
    ):
        assert flag in flags, f"{flag} not found in {binary} --help"
    assert (
        unknown_flags(["--flash-attn", "on", "--cache-type-k", "q8_0", "-ngl", "-1"], flags) == []
    )
    assert [f for f, _ in unknown_flags(["--flash-atn", "on"], flags)] == ["--flash-atn"]
    # every profile of the repo's models.conf passes the check the switcher runs
    from llamadash.core.profiles import load_profiles

    repo = Path(__file__).resolve().parents[2]
    for profile in load_profiles(repo / "models.conf").profiles:
        args = profile.server_args("/models/x.gguf")
        assert unknown_flags(args, flags) == [], profile.id


def test_owned_flag_spellings_are_exactly_those_of_the_real_help() -> None:
    """models.conf is checked without the binary, so the table must list every alias it has."""
    binary = _real_binary()
    if binary is None:
        missing(f"a llama-server binary under {CACHE}/llama-server/*/", "make testbed builds it")
    result = subprocess.run(
        [str(binary), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    groups: dict[str, set[str]] = {}
    for spelling, (long, _) in OWNED_FLAGS.items():
        groups.setdefault(long, set()).add(spelling)
    for long, spellings in groups.items():
        lines = [
            names
            for line in (result.stdout + result.stderr).splitlines()
            # flag lines start in column 0; indented ones continue a description
            if not line.startswith(" ") and long in (names := parse_help(line))
        ]
        assert lines == [spellings], long


def test_flag_name_reads_flags_as_llama_server_does() -> None:
    assert flag_name("--ctx_size=4096") == "--ctx-size"  # llama-server maps _ to - in long flags
    assert flag_name("-ot") == "-ot"
    assert [flag_name(v) for v in ("4096", "-1", "-1.5e3", "-", "x=--y")] == [None] * 5
    problems = unknown_flags(["--ctx_size", "4096", "--no_mmap", "--flash_atn"], EXPECTED)
    assert [flag for flag, _ in problems] == ["--flash-atn"]


def test_empty_help_output_is_not_cached(tmp_path: Path) -> None:
    # Regression: a --help that printed nothing useful was cached and disabled checks forever.
    cache = FlagCache(tmp_path)
    assert cache.known_flags("bin:x", lambda: "garbage, no flags here") is None
    assert cache.known_flags("bin:x", lambda: "-m,    --model FNAME   model path") == frozenset(
        {"-m", "--model"}
    )
