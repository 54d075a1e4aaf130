"""models.conf parsing: the repo's real file, every error path, and property tests."""

from __future__ import annotations

import shlex
import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llamadash.core.inifile import ConfigError
from llamadash.core.profiles import (
    DEFAULT_LOAD_TIMEOUT,
    Profile,
    ProfileSet,
    load_profiles,
    parse_profiles,
)

REPO = Path(__file__).resolve().parents[2]
MODELS_CONF = REPO / "models.conf"


@pytest.fixture(scope="module")
def real() -> ProfileSet:
    return load_profiles(MODELS_CONF)


def _pairs(args: tuple[str, ...], flag: str) -> list[str]:
    """Every value that follows ``flag`` in an argument list."""
    return [args[i + 1] for i, a in enumerate(args) if a == flag]


# --- the repo's real models.conf -------------------------------------------------------------


def test_real_file_profiles_in_file_order(real: ProfileSet) -> None:
    assert [p.id for p in real.profiles] == [
        "qwen3-coder",
        "glm-air",
        "gemma-demo",
        "bench-qwen-128k",
        "bench-gemma-4slots",
    ]
    assert real.path == MODELS_CONF


def test_real_file_production_and_bench_split(real: ProfileSet) -> None:
    assert [p.id for p in real.production] == ["qwen3-coder", "glm-air", "gemma-demo"]
    assert [p.id for p in real.benches] == ["bench-qwen-128k", "bench-gemma-4slots"]
    assert all(p.bench for p in real.benches)
    assert not any(p.bench for p in real.production)


def test_real_file_settings_section_is_not_a_profile(real: ProfileSet) -> None:
    assert real.get("llamadash") is None
    assert real.get("defaults") is None
    settings_ = {e.key: e.value for e in real.settings}
    assert settings_["models_dir"] == "models"
    assert settings_["port"] == "8080"
    assert settings_["default_profile"] == "gemma-demo"


def test_real_file_defaults_are_inherited(real: ProfileSet) -> None:
    # [defaults]: ngl = 999, parallel = 1, timeout = 600, extra = --jinja --metrics
    qwen = real.get("qwen3-coder")
    assert qwen is not None
    assert qwen.ngl == 999
    assert qwen.parallel == 1
    assert qwen.timeout == 600.0
    # gemma-demo sets nothing but ngl/ctx/threads: extra comes from [defaults]
    gemma = real.get("gemma-demo")
    assert gemma is not None
    assert gemma.extra == ("--jinja", "--metrics")
    assert gemma.ngl == 0  # its own value wins over the default 999
    assert gemma.parallel == 1
    bench4 = real.get("bench-gemma-4slots")
    assert bench4 is not None
    assert bench4.parallel == 4


def test_real_file_values(real: ProfileSet) -> None:
    qwen = real.get("qwen3-coder")
    assert qwen is not None
    assert qwen.name == "Qwen3-Coder 30B-A3B Instruct (Q4_K_M)"
    assert qwen.model == "Qwen3-Coder-30B-A3B-Instruct-Q4_K_M.gguf"
    assert (qwen.ctx, qwen.batch, qwen.ubatch) == (65536, 2048, 512)
    assert qwen.threads is None
    assert qwen.ot == (r"blk\.(2[4-9]|3[0-9]|4[0-7])\.ffn_(up|down|gate)_exps\.=CPU",)
    assert qwen.speed == "140 t/s"
    assert qwen.source == f"{MODELS_CONF}:{_line_of('[qwen3-coder]')}"
    glm = real.get("glm-air")
    assert glm is not None
    assert glm.timeout == 900.0
    assert glm.ot == (r"\.ffn_(up|down|gate)_exps\.=CPU",)
    assert glm.extra == ("--jinja", "--metrics", "--flash-attn", "on", "--load-mode", "none")


def _line_of(text: str) -> int:
    lines = MODELS_CONF.read_text(encoding="utf-8").splitlines()
    return lines.index(text) + 1


def test_real_file_server_args(real: ProfileSet) -> None:
    qwen = real.get("qwen3-coder")
    assert qwen is not None
    args = qwen.server_args("/models/Qwen3-Coder-30B-A3B-Instruct-Q4_K_M.gguf")
    assert args[:4] == (
        "--model",
        "/models/Qwen3-Coder-30B-A3B-Instruct-Q4_K_M.gguf",
        "--alias",
        "qwen3-coder",
    )
    assert _pairs(args, "--ctx-size") == ["65536"]
    assert _pairs(args, "--n-gpu-layers") == ["999"]
    assert _pairs(args, "--batch-size") == ["2048"]
    assert _pairs(args, "--ubatch-size") == ["512"]
    assert _pairs(args, "--parallel") == ["1"]
    assert "--threads" not in args  # unset keys produce no flag
    assert _pairs(args, "--override-tensor") == list(qwen.ot)
    # extra comes last, split like a shell would
    assert args[-len(qwen.extra) :] == qwen.extra
    assert qwen.extra == tuple(
        shlex.split("--jinja --metrics --flash-attn on --cache-type-k q8_0 --cache-type-v q8_0")
    )


def test_negative_ngl_is_passed_through() -> None:
    p = parse_profiles("[a]\nmodel = m.gguf\nngl = -1\n").profiles[0]
    assert _pairs(p.server_args("m"), "--n-gpu-layers") == ["-1"]


def test_model_path_relative_and_absolute(tmp_path: Path) -> None:
    rel = Profile(id="a", name="a", model="sub/m.gguf")
    assert rel.model_path(tmp_path) == tmp_path / "sub" / "m.gguf"
    absolute = Profile(id="a", name="a", model="/abs/m.gguf")
    assert absolute.model_path(tmp_path) == Path("/abs/m.gguf")


# --- inheritance and value handling ----------------------------------------------------------


def test_own_ot_replaces_inherited_ot() -> None:
    text = """
[defaults]
ot = A=CPU
ot = B=CPU

[inherits]
model = m.gguf

[own]
model = m.gguf
ot = C=CPU
"""
    ps = parse_profiles(text)
    assert ps.profiles[0].ot == ("A=CPU", "B=CPU")
    assert ps.profiles[1].ot == ("C=CPU",)


def test_ot_repeat_semicolons_and_continuation() -> None:
    # a line starting with ';' is a comment even when indented, so the ';' ends the line
    text = "[a]\nmodel = m.gguf\not = x=CPU; y=CPU\not = z=CUDA0;\n  w=CPU\n  ; comment\n"
    p = parse_profiles(text).profiles[0]
    assert p.ot == ("x=CPU", "y=CPU", "z=CUDA0", "w=CPU")
    args = p.server_args("m")
    assert _pairs(args, "--override-tensor") == ["x=CPU", "y=CPU", "z=CUDA0", "w=CPU"]


def test_extra_is_split_with_shlex() -> None:
    text = """[a]
model = m.gguf
extra = --chat-template-kwargs '{"enable_thinking": false}' --chat-template-file "my t.jinja"
"""
    p = parse_profiles(text).profiles[0]
    assert p.extra == (
        "--chat-template-kwargs",
        '{"enable_thinking": false}',
        "--chat-template-file",
        "my t.jinja",
    )


def test_inline_comment_dropped_but_hash_inside_value_kept() -> None:
    p = parse_profiles("[a]\nmodel = m.gguf  # the model\not = a#b=CPU\n").profiles[0]
    assert p.model == "m.gguf"
    assert p.ot == ("a#b=CPU",)


def test_name_defaults_to_id_and_timeout_default() -> None:
    p = parse_profiles("[just-id]\nmodel = m.gguf\n").profiles[0]
    assert p.name == "just-id"
    assert p.timeout == DEFAULT_LOAD_TIMEOUT
    assert p.bench is False
    assert p.server_args("m") == ("--model", "m", "--alias", "just-id")


def test_keys_are_case_insensitive_and_colon_separator() -> None:
    p = parse_profiles("[a]\nMODEL: m.gguf\nCtx = 100\n").profiles[0]
    assert (p.model, p.ctx) == ("m.gguf", 100)


@pytest.mark.parametrize(
    ("word", "expected"),
    [("true", True), ("Yes", True), ("1", True), ("on", True), ("false", False), ("no", False)],
)
def test_bool_words(word: str, expected: bool) -> None:
    assert parse_profiles(f"[a]\nmodel = m\nbench = {word}\n").profiles[0].bench is expected


# --- errors name file:line:key ---------------------------------------------------------------


def _error(text: str, path: str = "conf/models.conf") -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_profiles(text, path)
    return info.value


def test_unknown_key_suggests_close_match() -> None:
    err = _error("[a]\nmodel = m.gguf\nctxx = 4096\n")
    assert (err.path, err.line, err.key) == ("conf/models.conf", 3, "ctxx")
    assert str(err).startswith("conf/models.conf:3: key 'ctxx':")
    assert "did you mean 'ctx'" in str(err)


def test_unknown_key_without_close_match_lists_known_keys() -> None:
    err = _error("[a]\nmodel = m.gguf\nzzzzzz = 1\n")
    assert err.line == 3
    assert "known:" in str(err)
    assert "ctx" in str(err)


def test_unknown_key_in_defaults_is_caught() -> None:
    err = _error("[defaults]\nngll = 1\n")
    assert (err.line, err.key) == (2, "ngll")
    assert "did you mean 'ngl'" in str(err)


def test_missing_model() -> None:
    err = _error("[a]\nmodel = m.gguf\n\n[nomodel]\nctx = 10\n")
    assert (err.line, err.key) == (4, "model")
    assert "[nomodel] has no model" in str(err)
    assert str(err).startswith("conf/models.conf:4:")


def test_model_may_come_from_defaults() -> None:
    ps = parse_profiles("[defaults]\nmodel = shared.gguf\n[a]\n[b]\nmodel = own.gguf\n")
    assert [p.model for p in ps.profiles] == ["shared.gguf", "own.gguf"]


def test_bad_number() -> None:
    err = _error("[a]\nmodel = m.gguf\nctx = lots\n")
    assert (err.line, err.key) == (3, "ctx")
    assert "not a whole number: 'lots'" in str(err)
    assert str(err).startswith("conf/models.conf:3: key 'ctx':")


@pytest.mark.parametrize(("key", "value"), [("ctx", "0"), ("threads", "-2"), ("ngl", "-2")])
def test_out_of_range_numbers(key: str, value: str) -> None:
    err = _error(f"[a]\nmodel = m\n{key} = {value}\n")
    assert (err.line, err.key) == (3, key)
    assert "out of range" in str(err)


@pytest.mark.parametrize("value", ["soon", "0", "-5", "nan", "inf"])
def test_bad_timeout(value: str) -> None:
    err = _error(f"[a]\nmodel = m\ntimeout = {value}\n")
    assert (err.line, err.key) == (3, "timeout")


def test_duplicate_id_names_both_lines() -> None:
    err = _error("[a]\nmodel = m\n\n[b]\nmodel = m\n\n[a]\nmodel = n\n")
    assert err.line == 7
    assert "duplicate profile id [a]" in str(err)
    assert "first defined on line 1" in str(err)
    assert str(err).startswith("conf/models.conf:7:")


def test_bad_bool() -> None:
    err = _error("[a]\nmodel = m\nbench = maybe\n")
    assert (err.line, err.key) == (3, "bench")
    assert "want true or false, got 'maybe'" in str(err)


def test_key_before_any_section() -> None:
    err = _error("# header\nmodel = m.gguf\n[a]\n")
    assert (err.line, err.key) == (2, "model")
    assert "before any [section]" in str(err)


def test_unreadable_line() -> None:
    err = _error("[a]\nmodel = m\nthis is not an entry\n")
    assert err.line == 3
    assert "cannot read this line" in str(err)
    assert "this is not an entry" in str(err)


def test_empty_section_name() -> None:
    err = _error("[a]\nmodel = m\n[ ]\n")
    assert err.line == 3


def test_unsplittable_extra() -> None:
    err = _error("[a]\nmodel = m\nextra = --jinja 'unclosed\n")
    assert (err.line, err.key) == (3, "extra")
    assert "cannot split flags" in str(err)


def test_load_profiles_missing_and_undecodable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_profiles(tmp_path / "nope.conf")
    bad = tmp_path / "bad.conf"
    bad.write_bytes(b"[a]\nmodel = \xff\xfe\n")
    with pytest.raises(ConfigError, match="cannot read"):
        load_profiles(bad)


# --- properties ------------------------------------------------------------------------------


def _parse_or_config_error(text: str) -> None:
    """Parse; any failure must be a ConfigError that names the file (anything else propagates)."""
    try:
        ps = parse_profiles(text, "fuzz.conf")
    except ConfigError as err:
        assert err.path == "fuzz.conf"
        assert str(err).startswith("fuzz.conf")
        assert err.message
    else:
        assert all(p.model for p in ps.profiles)
        assert len({p.id for p in ps.profiles}) == len(ps.profiles)
        assert all(p.id not in ("defaults", "llamadash") for p in ps.profiles)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_arbitrary_text_raises_only_config_error(text: str) -> None:
    _parse_or_config_error(text)


_LINE_PIECES = st.sampled_from(
    [
        "[a]",
        "[defaults]",
        "[llamadash]",
        "[b]",
        "model = m.gguf",
        "ctx = 12",
        "ctx = x",
        "ngl = -1",
        "bench = yes",
        "bench = ?",
        "timeout = 1e3",
        "timeout = nan",
        "extra = --a 'b c'",
        "extra = 'x",
        "ot = a=CPU;;b=CPU",
        "  continued",
        "# comment",
        "; comment",
        "",
        "name = N",
        "speed =",
        "=",
        "[",
        "]",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_LINE_PIECES, st.text(max_size=12)), max_size=15))
def test_config_like_text_raises_only_config_error(lines: list[str]) -> None:
    _parse_or_config_error("\n".join(lines))


_ID = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,15}", fullmatch=True).filter(
    lambda s: s not in ("defaults", "llamadash")
)
_OT = st.text(alphabet=string.ascii_letters + string.digits + r"\.()[]|*+?^$_-=#", min_size=1)
_INT = st.integers(min_value=1, max_value=10**9)


@st.composite
def _profile_specs(draw: st.DrawFn) -> list[dict[str, object]]:
    ids = draw(st.lists(_ID, min_size=1, max_size=5, unique=True))
    return [
        {
            "id": pid,
            "model": draw(st.from_regex(r"[A-Za-z0-9_./-]{1,30}\.gguf", fullmatch=True)),
            "ctx": draw(st.none() | _INT),
            "ngl": draw(st.none() | st.integers(min_value=-1, max_value=999)),
            "threads": draw(st.none() | _INT),
            "ot": draw(st.lists(_OT, max_size=4)),
            "ot_one_line": draw(st.booleans()),
            "bench": draw(st.booleans()),
        }
        for pid in ids
    ]


def _render(specs: list[dict[str, object]]) -> str:
    out: list[str] = []
    for spec in specs:
        out += [f"[{spec['id']}]", f"model = {spec['model']}", f"bench = {spec['bench']}"]
        for key in ("ctx", "ngl", "threads"):
            if spec[key] is not None:
                out.append(f"{key} = {spec[key]}")
        ot = list(spec["ot"])  # type: ignore[call-overload]
        if ot and spec["ot_one_line"]:
            out.append("ot = " + ";".join(ot))
        else:
            out += [f"ot = {pattern}" for pattern in ot]
        out.append("")
    return "\n".join(out)


@settings(max_examples=200, deadline=None)
@given(_profile_specs())
def test_generated_profiles_round_trip(specs: list[dict[str, object]]) -> None:
    ps = parse_profiles(_render(specs))
    assert [p.id for p in ps.profiles] == [s["id"] for s in specs]
    for profile, spec in zip(ps.profiles, specs, strict=True):
        assert profile.model == spec["model"]
        assert profile.ctx == spec["ctx"]
        assert profile.ngl == spec["ngl"]
        assert profile.threads == spec["threads"]
        assert profile.ot == tuple(spec["ot"])  # type: ignore[call-overload]
        assert profile.bench is spec["bench"]
        expected = ["--model", "M", "--alias", spec["id"]]
        for key, flag in (("ctx", "--ctx-size"), ("ngl", "--n-gpu-layers")):
            if spec[key] is not None:
                expected += [flag, str(spec[key])]
        if spec["threads"] is not None:
            expected += ["--threads", str(spec["threads"])]
        for pattern in spec["ot"]:  # type: ignore[attr-defined]
            expected += ["--override-tensor", pattern]
        assert list(profile.server_args("M")) == expected
    assert [p.id for p in ps.benches] == [s["id"] for s in specs if s["bench"]]
