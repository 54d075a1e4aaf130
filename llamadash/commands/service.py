"""``llamadash service install|uninstall|status``: ``llamadash serve`` started at login.

A systemd user unit on Linux, a launchd agent on macOS (or with ``--launchd``). The service
runs the interpreter running this command, on the absolute models.conf path, in the project
dir, with only the environment it needs (core/runtime/environ.py ``service_env``); with a
profile (``--profile``, else default_profile) it switches to it once it listens.
"""

from __future__ import annotations

import argparse
import difflib
import itertools
import os
import sys
from collections.abc import Callable
from pathlib import Path

from llamadash.commands import EXIT_FAILED, EXIT_USAGE
from llamadash.commands.common import emit_json, fail
from llamadash.commands.owner import describe_owner_state, owner_state, read_config
from llamadash.commands.service_managers import Launchd, Manager, Report, Systemd
from llamadash.core.profiles import ProfileSet
from llamadash.core.runtime.environ import SERVICE_TOKEN_VARIABLE, service_env
from llamadash.core.service_unit import ServiceSpec, UnitValueError
from llamadash.core.settings import Settings, load_settings


def service(args: argparse.Namespace) -> int:
    """Install, uninstall or describe the login service."""
    manager: Manager = Launchd() if args.launchd or sys.platform == "darwin" else Systemd()
    if args.action == "uninstall":
        return _uninstall(manager, args.json)
    profiles, settings = read_config(args)
    if args.action == "status":
        return _status(
            manager, _rendered_for_status(args, manager, profiles, settings), settings, args.json
        )
    try:
        spec = service_spec(args, profiles, settings, args.profile or settings.default_profile)
        text = manager.render(spec)
    except UnitValueError as exc:
        return fail(f"error: {exc}; nothing written", EXIT_USAGE)
    if args.print_only:
        sys.stdout.write(text)
        return 0
    if problem := _unservable(profiles, settings) or _cannot_run(spec):
        return fail(f"error: {problem}; nothing written", EXIT_USAGE)
    try:
        return _install(manager, text, spec, args.json)
    except (OSError, UnicodeDecodeError) as exc:
        return fail(f"error: {manager.path}: {exc}", EXIT_FAILED)


def service_spec(
    args: argparse.Namespace, profiles: ProfileSet, settings: Settings, query: str
) -> ServiceSpec:
    """What the service runs, from the flags and models.conf as they are now.

    Args:
        args: the common flags (models.conf, runtime).
        profiles: models.conf's profiles, ``query`` is resolved with the CLI's rules.
        settings: the project dir and state dir.
        query: the profile it switches to once it listens ("": none).

    Raises:
        UnknownProfileError: ``query`` matches no profile.
    """
    profile = profiles.resolve(query).id if query else None
    conf = os.path.abspath(args.models_conf)
    argv = [os.path.abspath(sys.executable), "-m", "llamadash", "--models-conf", conf]
    if args.runtime:
        argv += ["--runtime", args.runtime]
    argv.append("serve")
    if profile:
        argv += ["--switch", profile]
    environment = service_env()
    if "PYTHONPATH" in environment:  # the same llamadash this runs, from any folder
        parts = environment["PYTHONPATH"].split(os.pathsep)
        environment["PYTHONPATH"] = os.pathsep.join(os.path.abspath(p) for p in parts if p)
    return ServiceSpec(
        argv=tuple(argv),
        working_dir=settings.project_dir,
        environment=tuple(environment.items()),
        description=f"llamadash serve ({conf})",
        log_path=settings.state_dir / "service.log",
        final_exits=(EXIT_USAGE,),  # models.conf or the profile is wrong: fix it first
    )


def _rendered_for_status(
    args: argparse.Namespace, manager: Manager, profiles: ProfileSet, settings: Settings
) -> str | None:
    """What install would write now, for the profile asked or else the installed one's.

    None when it cannot be rendered (that profile is gone from models.conf, say): the
    installed file is then not current.
    """
    from llamadash.core.profiles import UnknownProfileError

    query = args.profile or switch_target(manager.installed_argv() or ())
    try:
        spec = service_spec(args, profiles, settings, query or settings.default_profile)
        return manager.render(spec)
    except (UnitValueError, UnknownProfileError):
        return None


def switch_target(argv: tuple[str, ...]) -> str | None:
    """The profile a service's ``serve --switch X`` command line starts, if any."""
    for flag, value in itertools.pairwise(argv):
        if flag == "--switch":
            return value
    return None


def _unservable(profiles: ProfileSet, settings: Settings) -> str | None:
    """Why ``serve`` would refuse to start from the unit (the token stays out of it)."""
    from llamadash.core.net import is_loopback

    if is_loopback(settings.api_host):
        return None
    in_file = load_settings(profiles, environ={}).api_token
    if in_file:
        return None
    return (
        f"api_host is {settings.api_host} but models.conf sets no api_token, and"
        f" ${SERVICE_TOKEN_VARIABLE} is never written into the unit: set api_token in"
        " models.conf [llamadash], or bind 127.0.0.1"
    )


def _cannot_run(spec: ServiceSpec) -> str | None:
    """Why the service's interpreter cannot run llamadash where and as the unit runs it.

    ``llamadash --version`` with the unit's folder and environment (plus HOME and USER, which
    the service manager sets): a checkout run without PYTHONPATH, say, is found out now.
    """
    import subprocess

    env = {k: v for k, v in os.environ.items() if k in ("HOME", "USER", "LOGNAME")}
    env.update(spec.environment)
    try:
        done = subprocess.run(
            [spec.argv[0], "-m", "llamadash", "--version"],
            cwd=spec.working_dir,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"the service could not run {spec.argv[0]}: {exc}"
    if done.returncode == 0:
        return None
    last = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
    return f"the service's command would fail in {spec.working_dir}: {last}"


def _install(manager: Manager, text: str, spec: ServiceSpec, as_json: bool) -> int:
    path = manager.path
    old = path.read_text(encoding="utf-8") if path.is_file() else None
    say = _sayer(as_json)
    if old == text:
        say(f"{path} is already up to date")
    else:
        _write(path, old, text, say)
    if manager.name == "launchd":
        spec.log_path.parent.mkdir(parents=True, exist_ok=True)  # launchd makes no folders
    report = manager.load(changed=old != text)
    for line in report.lines:
        say(line)
    if report.manual:
        say("to do it by hand: " + " ; ".join(report.manual))
    say(manager.hint())
    if os.environ.get(SERVICE_TOKEN_VARIABLE):
        say(
            f"${SERVICE_TOKEN_VARIABLE} is not written into the service (a file others may"
            " read): set api_token in models.conf to have the service use a token"
        )
    if as_json:
        emit_json(_report_dict(manager, report, changed=old != text, argv=spec.argv))
    return 0 if report.ok else EXIT_FAILED


def _write(path: Path, old: str | None, text: str, say: Callable[[str], None]) -> None:
    from llamadash.core.envfile import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    if old is not None:
        diff = difflib.unified_diff(
            old.splitlines(keepends=True),
            text.splitlines(keepends=True),
            f"{path} (now)",
            f"{path} (new)",
        )
        for line in diff:
            say(line.rstrip("\n"))
        backup = path.with_name(path.name + ".prev")
        atomic_write(backup, old)
        say(f"replacing {path}: it is llamadash's file (the one before is kept as {backup})")
    atomic_write(path, text, mode=0o644)
    say(f"wrote {path}")


def _uninstall(manager: Manager, as_json: bool) -> int:
    path = manager.path
    say = _sayer(as_json)
    if not path.exists():
        say(f"not installed (no {path})")
        if as_json:
            emit_json({"manager": manager.name, "path": str(path), "removed": False})
        return 0
    report = manager.unload()
    for line in report.lines:
        say(line)
    path.unlink()
    manager.forget()
    say(f"removed {path}")
    backup = path.with_name(path.name + ".prev")
    if backup.exists():
        say(f"kept {backup} (the file an earlier install replaced; remove it if unwanted)")
    if as_json:
        emit_json({**_report_dict(manager, report), "removed": True})
    return 0


def _status(manager: Manager, text: str | None, settings: Settings, as_json: bool) -> int:
    path = manager.path
    installed = path.is_file()
    current = installed and path.read_text(encoding="utf-8") == text
    enabled, active = manager.state() if installed else ("no", "no")
    data: dict[str, object] = {
        "manager": manager.name,
        "path": str(path),
        "installed": installed,
        "current": current,
        "enabled": enabled,
        "active": active,
        "owner": owner_state(settings),
    }
    if as_json:
        emit_json(data)
        return 0
    if installed:
        same = "as install would write it now" if current else "differs from what install would"
        print(f"installed: {path} ({same}{'' if current else ' write now: see --print'})")
    else:
        print(f"installed: no ({path}: llamadash service install)")
    print(f"enabled:   {enabled}")
    print(f"active:    {active}")
    print(f"owner:     {describe_owner_state(data['owner'])}")
    return 0


def _report_dict(manager: Manager, report: Report, **more: object) -> dict[str, object]:
    return {
        "manager": manager.name,
        "path": str(manager.path),
        "ok": report.ok,
        "lines": report.lines,
        "manual": report.manual,
        **more,
    }


def _sayer(as_json: bool) -> Callable[[str], None]:
    """Print human lines on stdout, or on stderr when stdout carries the JSON."""
    stream = sys.stderr if as_json else sys.stdout

    def say(line: str) -> None:
        print(line, file=stream)

    return say
