"""A pull's plan on the real disk: what is left to fetch, the free-space check, --fit."""

from __future__ import annotations

from pathlib import Path

import pytest

from llamadash.hub.pull import PullPlan, check_disk, fit, needs
from llamadash.hub.quants import QuantChoice, RemoteFile
from llamadash.hub.remote import HubError


def test_missing_bytes_count_complete_files_and_partials(tmp_path: Path) -> None:
    parts = (RemoteFile("m-00001-of-00002.gguf", 100), RemoteFile("m-00002-of-00002.gguf", 50))
    pull = PullPlan("u/r", QuantChoice("Q4_K_M", parts), tmp_path / "u" / "r")
    assert pull.missing_bytes == 150
    pull.folder.mkdir(parents=True)
    (pull.folder / "m-00001-of-00002.gguf").write_bytes(b"x" * 100)
    (pull.folder / "m-00002-of-00002.gguf.partial").write_bytes(b"x" * 20)
    assert pull.missing_bytes == 30


def test_disk_check_refuses_what_cannot_fit_before_any_byte(tmp_path: Path) -> None:
    huge = QuantChoice("F32", (RemoteFile("m-F32.gguf", 10**18),))  # an exabyte: no disk has it
    pull = PullPlan("u/r", huge, tmp_path / "u" / "r")
    with pytest.raises(HubError, match=r"not enough disk for F32 of u/r: it needs .* GiB free"):
        check_disk(pull)
    assert not pull.folder.exists()
    check_disk(PullPlan("u/r", QuantChoice("Q4_K_M", (RemoteFile("m.gguf", 10),)), pull.folder))


def test_fit_takes_the_largest_within_the_budget() -> None:
    small = QuantChoice("Q4_K_M", (RemoteFile("a", 400),))
    large = QuantChoice("Q8_0", (RemoteFile("b", 800),))
    assert needs(large) == 1000
    assert fit([small, large], 1000) == large
    assert fit([small, large], 999) == small
    assert fit([small, large], 100) is None
