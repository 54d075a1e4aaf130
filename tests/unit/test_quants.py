"""Model references and quant names in every usual spelling; ranking; split parts."""

from __future__ import annotations

import pytest

from llamadash.core.model_ref import BadReferenceError, ModelRef, parse_ref
from llamadash.hub.quants import RemoteFile, choices, pick, quant_of


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("unsloth/gemma-3-270m-it-GGUF", ModelRef("unsloth/gemma-3-270m-it-GGUF")),
        ("bartowski/Qwen3-8B-GGUF:Q5_K_M", ModelRef("bartowski/Qwen3-8B-GGUF", "Q5_K_M")),
        ("hf.co/a/b-GGUF:q4_k_m", ModelRef("a/b-GGUF", "q4_k_m")),
        ("https://huggingface.co/a/b.c_d-GGUF/", ModelRef("a/b.c_d-GGUF")),
        ("huggingface.co/a/b:UD-Q4_K_XL", ModelRef("a/b", "UD-Q4_K_XL")),
    ],
)
def test_references(text: str, ref: ModelRef) -> None:
    assert parse_ref(text) == ref


@pytest.mark.parametrize("text", ["", "gemma", "a/b/c", "a b/c", "a/b:", "/b"])
def test_bad_references(text: str) -> None:
    with pytest.raises(BadReferenceError, match="user/repo"):
        parse_ref(text)


@pytest.mark.parametrize(
    ("name", "quant"),
    [
        ("model.Q4_K_M.gguf", "Q4_K_M"),
        ("model-q4_k_m.gguf", "Q4_K_M"),
        ("Qwen3-30B-A3B-UD-Q4_K_XL.gguf", "UD-Q4_K_XL"),
        ("Q4_K_M/Qwen3-Q4_K_M-00001-of-00003.gguf", "Q4_K_M"),
        ("llama-2-7b.Q5_K_S.gguf", "Q5_K_S"),
        ("Meta-Llama-3.1-8B-Instruct-IQ4_XS.gguf", "IQ4_XS"),
        ("gemma-3-270m-it-BF16.gguf", "BF16"),
        ("gpt-oss-20b-MXFP4.gguf", "MXFP4"),
        ("tiny.gguf", None),
    ],
)
def test_quant_names(name: str, quant: str | None) -> None:
    assert quant_of(name) == quant


def test_ranking_splits_and_projectors() -> None:
    files = [
        RemoteFile("m-Q8_0.gguf", 800),
        RemoteFile("m-IQ4_XS.gguf", 380),
        RemoteFile("m-Q5_K_M.gguf", 550),
        RemoteFile("mmproj-m-F16.gguf", 90),
        RemoteFile("m-imatrix.gguf", 5),
        RemoteFile("README.md", 1),
        RemoteFile("Q4_K_M/m-Q4_K_M-00002-of-00002.gguf", 200),
        RemoteFile("Q4_K_M/m-Q4_K_M-00001-of-00002.gguf", 250),
        RemoteFile("Q6_K/m-Q6_K-00001-of-00002.gguf", 300),  # its second part is missing
    ]
    found = choices(files)
    assert [c.quant for c in found] == ["Q4_K_M", "Q5_K_M", "Q8_0", "IQ4_XS"]
    assert found[0].size == 450 and found[0].first.path.endswith("00001-of-00002.gguf")
    assert pick(found, None) == found[0]
    assert pick(found, "q8-0") == found[2]
    assert pick(found, "Q2_K") is None
    assert "F16" in [c.quant for c in choices(files, auxiliary=True)]


def test_a_profiles_hf_key_is_checked_when_models_conf_loads() -> None:
    from llamadash.core.inifile import ConfigError
    from llamadash.core.profiles import parse_profiles

    good = parse_profiles("[a]\nmodel = a.gguf\nhf = hf.co/u/r-GGUF:Q4_K_M\n").get("a")
    assert good is not None and good.hf == "hf.co/u/r-GGUF:Q4_K_M"
    with pytest.raises(ConfigError, match=r"models.conf:3: key 'hf': not a model reference"):
        parse_profiles("[a]\nmodel = a.gguf\nhf = just-a-name\n")
