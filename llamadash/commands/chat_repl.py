"""The terminal chat of ``llamadash run``: read a message, stream the answer, repeat.

``input()`` (with readline's line editing and ↑ history when Python has it) reads each line.
A line ending in a backslash goes on on the next line; a message starting with ``\"\"\"``
goes on until a line ending with ``\"\"\"``. Ctrl-C while an answer streams stops it (the
connection is closed, so the server frees its slot) and the chat goes on; at the prompt it
drops what was typed. ``/bye`` or Ctrl-D leaves.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable

from llamadash.core.chat import Conversation, ServerError

PROMPT, MORE = ">>> ", "... "
BLOCK = '"""'
HELP = (
    "/bye or Ctrl-D: leave · /clear: forget the conversation · /system TEXT: set the system"
    " prompt (/system alone shows it) · /help\n"
    'more lines: end a line with \\ to go on, or start with """ and end with """\n'
    "Ctrl-C stops an answer; the chat goes on"
)


def chat_loop(conversation: Conversation, title: str) -> int:
    """Chat until /bye or Ctrl-D; always exits 0 (errors are shown, the chat goes on)."""
    # Imported for its side effect: input() gains line editing and history. A Python built
    # without it still has plain input().
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401
    note(f"chatting with {title}: /help for commands, /bye or Ctrl-D to leave")
    while True:
        try:
            message = read_message()
        except EOFError:
            print(file=sys.stderr)
            return 0
        except KeyboardInterrupt:
            print(file=sys.stderr)
            note("(/bye or Ctrl-D to leave)")
            continue
        if not message.strip():
            continue
        if message.startswith("/"):
            if command(conversation, message.strip()):
                return 0
            continue
        answer_once(conversation, message)


def read_message(read: Callable[[str], str] = input) -> str:
    """One message, over as many lines as it takes (``read(prompt)`` reads one line).

    Raises:
        EOFError: Ctrl-D (or the end of input) at the prompt.
        KeyboardInterrupt: Ctrl-C while typing.
    """
    first = read(PROMPT)
    if first.lstrip().startswith(BLOCK):
        text = first.lstrip()[len(BLOCK) :]
        lines = []
        while not text.rstrip().endswith(BLOCK):
            lines.append(text)
            text = read(MORE)
        lines.append(text.rstrip()[: -len(BLOCK)])
        return "\n".join(lines).strip("\n")
    lines = []
    line = first
    while line.endswith("\\"):
        lines.append(line[:-1])
        line = read(MORE)
    lines.append(line)
    return "\n".join(lines)


def command(conversation: Conversation, text: str) -> bool:
    """Run a slash command; True when it asks to leave."""
    name, _, rest = text.partition(" ")
    if name == "/bye":
        return True
    if name == "/clear":
        conversation.clear()
        note("(conversation cleared)")
    elif name == "/system":
        if rest.strip():
            conversation.system = rest.strip()
            note("(system prompt set)")
        else:
            note(f"(system prompt: {conversation.system or 'none'})")
    elif name in ("/help", "/?"):
        note(HELP)
    else:
        note(f"unknown command {name}; /help lists them")
    return False


def answer_once(conversation: Conversation, message: str) -> None:
    """Stream the answer to ``message`` onto stdout, then its speed (or why it ended)."""
    try:
        answer = conversation.ask(message, on_text=_write)
    except ServerError as exc:
        full = "context size" in str(exc)
        note(f"error: {exc}" + ("\n(/clear forgets the conversation so far)" if full else ""))
        return
    if not answer.text.endswith("\n"):
        sys.stdout.write("\n")
    sys.stdout.flush()
    if answer.finish == "interrupted":
        note("[stopped]")
    else:
        limit = "; stopped at the token limit (-n)" if answer.finish == "length" else ""
        note(f"({answer.speed()}{limit})" if answer.speed() else limit.lstrip("; "))


def note(text: str) -> None:
    """A line for the user on stderr (dimmed on a terminal), apart from the answers."""
    if not text:
        return
    if sys.stderr.isatty():
        text = f"\x1b[2m{text}\x1b[0m"
    print(text, file=sys.stderr, flush=True)


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()
