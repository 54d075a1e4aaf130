"""`extra` may not hold a flag llamadash writes itself, nor one that moves where it reaches."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from llamadash.core.flags import flag_name
from llamadash.core.inifile import ConfigError
from llamadash.core.profiles import OWNED_FLAGS, parse_profiles
from llamadash.core.runtime.base import LaunchSpec
from llamadash.core.runtime.process import ProcessRuntime
from llamadash.core.settings import Settings

REPO = Path(__file__).resolve().parents[2]
HOST_MESSAGE = (
    "models.conf:4: key 'extra': --host is set by llamadash"
    " (llama-server listens on 127.0.0.1:<port>); set port in [llamadash] instead"
)


def _extra_error(extra: str, *, in_defaults: bool = False) -> ConfigError:
    text = (
        f"[defaults]\nname = n\n\nextra = {extra}\n[a]\nmodel = m.gguf\n"
        if in_defaults
        else f"[a]\nmodel = m.gguf\n\nextra = {extra}\n"
    )
    with pytest.raises(ConfigError) as info:
        parse_profiles(text)
    return info.value


def test_host_in_extra_is_refused_with_file_line_and_what_to_set() -> None:
    err = _extra_error("--jinja --host 0.0.0.0")
    assert str(err) == HOST_MESSAGE
    assert (err.line, err.key) == (4, "extra")


def test_host_in_defaults_extra_names_the_defaults_line() -> None:
    assert str(_extra_error("--host 0.0.0.0", in_defaults=True)) == HOST_MESSAGE


@pytest.mark.parametrize(
    ("extra", "starts"),
    [
        ("--host=0.0.0.0", "--host is set by llamadash"),
        ("--port 9999", "--port is set by llamadash; set port in [llamadash] instead"),
        ("--port=9999", "--port is set by llamadash"),
        ("-m other.gguf", "-m (--model) is set by llamadash; set the profile's model key"),
        ("--model=other.gguf", "--model is set by llamadash"),
        ("-a other", "-a (--alias) is set by llamadash"),
        ("--alias other", "--alias is set by llamadash"),
        ("-c 4096", "-c (--ctx-size) is set by llamadash from key 'ctx'; set ctx instead"),
        ("--ctx_size 4096", "--ctx_size (--ctx-size) is set by llamadash from key 'ctx'"),
        ("--gpu-layers 9", "--gpu-layers (--n-gpu-layers) is set by llamadash from key 'ngl'"),
        ("-ngl 9", "-ngl (--n-gpu-layers) is set by llamadash from key 'ngl'"),
        ("-b 9", "-b (--batch-size) is set by llamadash from key 'batch'"),
        ("-ub 9", "-ub (--ubatch-size) is set by llamadash from key 'ubatch'"),
        ("-t 2", "-t (--threads) is set by llamadash from key 'threads'"),
        ("-np 2", "-np (--parallel) is set by llamadash from key 'parallel'"),
        ("-ot x=CPU", "-ot (--override-tensor) is set by llamadash from key 'ot'"),
        ("--api-key secret", "--api-key is refused: llama-server would demand a key"),
        ("--api_key secret", "--api_key (--api-key) is refused"),
        ("--api-key-file k.txt", "--api-key-file is refused"),
        ("--ssl-key-file k --ssl-cert-file c", "--ssl-key-file is refused: llama-server would"),
        ("--ssl-cert-file c", "--ssl-cert-file is refused"),
        ("--api-prefix /v9", "--api-prefix is refused: it moves every endpoint"),
        ("--reuse-port", "--reuse-port is refused"),
        ("-mu http://x/m.gguf", "-mu (--model-url) is refused: it loads another model"),
        ("-hf org/repo", "-hf (--hf-repo) is refused"),
        ("-hfr org/repo", "-hfr (--hf-repo) is refused"),
        ("--hf-file m.gguf", "--hf-file is refused"),
        ("-dr gemma3", "-dr (--docker-repo) is refused"),
    ],
)
def test_every_spelling_of_an_owned_flag_is_refused(extra: str, starts: str) -> None:
    err = _extra_error(f"--jinja {extra}")
    assert err.key == "extra" and err.line == 4
    assert err.message.startswith(starts), err.message


@pytest.mark.parametrize(
    "extra",
    [
        "--jinja --metrics --flash-attn on -ctk q8_0",
        "--path /srv/ui --no-webui --no-slots",
        "--threads-batch 4 --ctx-checkpoints 2 --models-max 1",  # prefixes of owned flags
        '--chat-template-kwargs \'{"a": "--host"}\'',  # a value that mentions a flag
        "--temp -1 --seed -2",  # negative numbers are values
    ],
)
def test_other_flags_stay_allowed(extra: str) -> None:
    profile = parse_profiles(f"[a]\nmodel = m.gguf\nextra = {extra}\n").profiles[0]
    assert profile.extra == tuple(shlex.split(extra))


def test_every_flag_the_command_builders_write_is_owned(tmp_path: Path) -> None:
    """The table and the builders agree: a flag written without an entry would be overridable."""
    conf = (
        "[a]\nmodel = m.gguf\nctx = 1\nngl = 1\nbatch = 1\nubatch = 1\nthreads = 1\nparallel = 1\n"
        "ot = x=CPU\n"
    )
    profile = parse_profiles(conf).profiles[0]
    spec = LaunchSpec(profile, tmp_path, 8080)
    written = {flag_name(a) for a in ProcessRuntime(Settings()).command(spec)} - {None}
    for compose_file in ("compose.yaml", "compose.cpu.yaml"):
        command = re.search(r"^\s*command: (.*)$", (REPO / compose_file).read_text(), re.M)
        assert command is not None, compose_file
        written |= {flag_name(a) for a in command[1].split()} - {None}
    assert len(written) == 11  # host, port, model, alias and one per key
    for flag in written:
        assert flag in OWNED_FLAGS and OWNED_FLAGS[flag][0] == flag
        assert OWNED_FLAGS[flag][1].startswith("is set by llamadash")
