"""Named API tokens in models.conf: ``[token NAME]`` sections, their errors and secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from llamadash.core.inifile import ConfigError
from llamadash.core.profiles import parse_profiles
from llamadash.core.tokens import read_secrets

CONF = """\
[tiny]
model = tiny.gguf

[qwen-7b]
model = q.gguf

[token ci]
secret = env:CI_TOKEN
models = tiny*, qwen-?b
"""
SECRET = "s3cret-0123456789abcdef"


def test_a_token_section_is_a_rule_not_a_profile() -> None:
    profiles = parse_profiles(CONF)
    assert [p.id for p in profiles.profiles] == ["tiny", "qwen-7b"]
    (rule,) = profiles.tokens
    assert rule.name == "ci" and not rule.all_routes and rule.line == 7
    assert rule.allows("tiny") and rule.allows("qwen-7b") and rule.allows("tiny+a1b2")
    assert not rule.allows("Tiny") and not rule.allows("qwen-14b") and not rule.allows("gemma")
    assert rule.allowed(["gemma", "tiny", "qwen-7b"]) == ["tiny", "qwen-7b"]


@pytest.mark.parametrize(
    ("lines", "line", "says"),
    [
        ("secret = hunter2hunter2hunter2\nmodels = tiny", 8, "env:VARIABLE or file:PATH"),
        ("secret = env:X\nmodel = tiny", 9, "unknown key in [token ci]"),
        ("secret = env:X", 7, "needs models"),
        ("models = tiny", 7, "needs secret"),
        ("secret = env:X\nmodels = tiny\nroutes = admin", 10, "want v1 or all"),
    ],
)
def test_a_bad_token_section_names_its_line(lines: str, line: int, says: str) -> None:
    text = CONF.split("[token ci]", maxsplit=1)[0] + "[token ci]\n" + lines + "\n"
    with pytest.raises(ConfigError) as caught:
        parse_profiles(text, "models.conf")
    assert caught.value.line == line, caught.value
    assert f"models.conf:{line}:" in str(caught.value) and says in str(caught.value)


def test_secrets_come_from_the_environment_or_a_private_file(tmp_path: Path) -> None:
    conf = tmp_path / "models.conf"
    text = CONF + "\n[token bot]\nsecret = file:bot.token\nmodels = *\nroutes = all\n"
    rules = parse_profiles(text, conf).tokens
    secret_file = tmp_path / "bot.token"
    secret_file.write_text("bot-secret-0123456789\n")
    secret_file.chmod(0o644)
    with pytest.raises(ConfigError, match=r"readable by other users \(chmod 600"):
        read_secrets(rules, {"CI_TOKEN": SECRET}, "main-token")
    secret_file.chmod(0o600)
    ci, bot = read_secrets(rules, {"CI_TOKEN": SECRET}, "main-token")
    assert ci.secret == SECRET and bot.secret == "bot-secret-0123456789" and bot.rule.all_routes
    assert SECRET not in repr(ci)  # never in a log line
    for environ, says in (
        ({}, r"\$CI_TOKEN is not set"),
        ({"CI_TOKEN": "short"}, "shorter than 16"),
        ({"CI_TOKEN": "main-token-0123456789"}, "another token's"),
    ):
        with pytest.raises(ConfigError, match=says) as caught:
            read_secrets(rules, environ, "main-token-0123456789")
        assert caught.value.line == 7
