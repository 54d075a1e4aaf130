"""The parser built for one verb reads every command line exactly as the whole parser does.

``parse_args`` builds only the invoked verb's parser when ``verb_of`` is certain of the verb
(a forwarded ``status`` saves ~7 ms); everything else goes to the parser of every verb.
"""

from __future__ import annotations

import argparse
import contextlib
import io

import pytest

from llamadash.cli import VERB_PARSERS, build_parser, parse_args, verb_of

LINES = [
    ["status", "--json"],
    ["--models-conf", "a.conf", "--runtime", "process", "--json", "status"],
    ["--models-conf=a.conf", "--runtime=compose", "ps", "--watch"],
    ["--models-conf", "status", "switch", "tiny"],  # a conf file named like a verb
    ["--api-port", "-1", "stop", "all"],
    ["--no-api", "logs", "tiny", "-f", "-n", "5", "--all"],
    ["switch", "tiny", "--dry-run", "--restart", "--json"],
    ["switch", "--bogus"],
    ["start"],  # its profile is required
    ["status", "-h"],
    ["--models", "a.conf", "status"],  # an abbreviation: the whole parser
    ["-h"],
    ["--version"],
    ["sttaus"],
    ["--runtime", "nope", "status"],
    ["--models-conf", "--json", "status"],
    ["complete", "hello", "-n", "3"],
    ["demo-model", "--for", "gemma", "--quiet"],
    ["doctor", "tiny", "--has", "llama-server"],
    [],
]


def _outcome(parser: argparse.ArgumentParser, argv: list[str]) -> tuple[object, str, str]:
    """What a parse does: the namespace or the exit code, and what it printed."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            result: object = vars(parser.parse_args(argv))
        except SystemExit as exc:
            result = ("exit", exc.code)
    return result, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("argv", LINES, ids=" ".join)
def test_the_one_verb_parser_reads_a_line_as_the_whole_parser(argv: list[str]) -> None:
    assert _outcome(build_parser(verb_of(argv)), argv) == _outcome(build_parser(), argv)


@pytest.mark.parametrize(
    ("argv", "verb"),
    [
        (["status", "--json"], "status"),
        (["--json", "--no-api", "ps"], "ps"),
        (["--models-conf", "ps", "status"], "status"),
        (["--runtime=process", "stop"], "stop"),
        (["--models", "a.conf", "status"], None),
        (["-h", "status"], None),
        (["--", "status"], None),
        (["tiny"], None),
        ([], None),
    ],
)
def test_the_verb_is_named_only_when_it_is_certain(argv: list[str], verb: str | None) -> None:
    assert verb_of(argv) == verb


def test_a_forwarded_verb_builds_only_its_own_parser() -> None:
    parser = build_parser("status")
    verbs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert list(verbs.choices) == ["status"]
    assert parse_args(["status", "--json"]).json is True


def test_the_whole_parser_lists_every_verb_in_order() -> None:
    shown = build_parser().format_help()
    lines = [
        line.split()[0] for line in shown.splitlines() if line.startswith("    ") and line.split()
    ]
    positions = [lines.index(name) for name in VERB_PARSERS]
    assert positions == sorted(positions)
