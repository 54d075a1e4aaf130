"""``llamadash run <profile> [prompt]``: make the profile ready, then talk to its server.

With a prompt (an argument, piped stdin, or both: the argument first) it prints only the
answer and exits: 0 answered, 1 the server failed, 2 bad input, 130 interrupted, and the
exit codes of ``switch`` when the profile could not be made ready. Without one, on a
terminal, it opens a chat (:mod:`llamadash.commands.chat_repl`).
"""

from __future__ import annotations

import argparse
import os
import stat
import sys

from llamadash.commands.bring_up import NotReadyError, Running, bring_up
from llamadash.commands.common import emit_json, fail
from llamadash.commands.owner import read_config
from llamadash.core.chat import (
    Conversation,
    Sampling,
    ServerError,
    has_chat_template,
    model_has_template,
)

EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


def run(args: argparse.Namespace) -> int:
    """Chat with a profile, or answer one prompt."""
    profiles, settings = read_config(args)
    profile = profiles.resolve(args.profile)
    try:
        prompt = _prompt(args)
    except UnicodeDecodeError as exc:
        return fail(f"error: the piped prompt is not text ({exc.reason})", EXIT_USAGE)
    if prompt is None and (args.json or not sys.stdin.isatty()):
        return fail(
            "error: no prompt: pass one (or pipe it in), or run on a terminal to chat",
            EXIT_USAGE,
        )
    if prompt is not None and not prompt.strip():
        return fail("error: the prompt is empty", EXIT_USAGE)
    try:
        running = bring_up(args, settings, profile.id, restart=False, quiet=args.json)
    except NotReadyError as exc:
        return exc.show()
    model = profile.model_path(settings.models_dir)
    chat = model_has_template(model, profile.server_args(str(model)))
    if chat is None:  # the file is not readable here: ask the server
        try:
            chat = has_chat_template(running.endpoint)
        except ServerError as exc:
            return fail(f"error: {exc}", EXIT_FAILED)
    conversation = Conversation(
        running.endpoint,
        chat=chat,
        sampling=Sampling(args.temp, args.top_p, args.top_k, args.n_predict),
        system=args.system or "",
    )
    if not args.json:
        _notes(profile.id, running, chat, interactive=prompt is None)
    if prompt is None:
        from llamadash.commands.chat_repl import chat_loop

        return chat_loop(conversation, f"{profile.name} ({profile.id})")
    return _one_shot(conversation, prompt, running, args.json)


def _prompt(args: argparse.Namespace) -> str | None:
    """The prompt argument and piped stdin, joined; None: neither (a chat, on a terminal)."""
    # Bytes decoded here: under a C locale sys.stdin would turn bad bytes into surrogates
    # that reach the server as JSON it refuses.
    piped = sys.stdin.buffer.read().decode("utf-8") if _piped() else None
    parts = [part for part in (args.prompt, piped) if part is not None]
    if not parts:
        return None
    return "\n\n".join(part.rstrip("\n") for part in parts)


def _piped() -> bool:
    """Whether stdin is a pipe or a file, to be read as (part of) the prompt.

    A terminal, /dev/null or a socket a supervisor left open is not read: reading an idle
    inherited one would wait forever.
    """
    try:
        mode = os.fstat(sys.stdin.fileno()).st_mode
    except (OSError, ValueError):  # closed, or replaced by an object without a descriptor
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISREG(mode)


def _notes(profile_id: str, running: Running, chat: bool, *, interactive: bool) -> None:
    """Say once what the user should know: the endpoint used, who keeps the server running."""
    if not chat:
        print(
            f"({profile_id} has no chat template: each prompt goes to /completion as text"
            " to continue, after the conversation so far)",
            file=sys.stderr,
        )
    if running.owner or not (interactive or running.restarted):
        return
    print(
        f"(llama-server keeps running on {running.endpoint} after this; `llamadash stop` ends it)",
        file=sys.stderr,
    )


def _one_shot(conversation: Conversation, prompt: str, running: Running, as_json: bool) -> int:
    try:
        if as_json:
            response = conversation.ask_whole(prompt)
            path, _body = conversation.request(prompt, stream=False)
            emit_json(
                {
                    "profile": running.profile_id,
                    "endpoint": running.endpoint + path,
                    "response": response,
                }
            )
            return 0
        answer = conversation.ask(prompt, on_text=_write)
    except ServerError as exc:
        return fail(f"error: {exc}", EXIT_FAILED)
    if not answer.text.endswith("\n"):
        sys.stdout.write("\n")
    sys.stdout.flush()
    return EXIT_INTERRUPTED if answer.finish == "interrupted" else 0


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()
