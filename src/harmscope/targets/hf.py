"""A local transformers model as a target, with micro-batching of concurrent requests.

The runner sends many requests at once. :class:`HFTarget` queues them in the shared
:class:`~harmscope.batching.MicroBatcher` (unbounded: a scan never drops a request), waits a
short collection window, groups them by identical :class:`~harmscope.records.GenerationParams`,
sorts each group by prompt length and runs up to ``max_batch`` prompts as one left-padded
``model.generate`` call in a worker thread, so the event loop stays free meanwhile.

With a latent probe (:mod:`harmscope.latent.signals`), the residual stream at the probe's layers
is recorded during the prefill pass of that same ``generate`` call (no second pass), and each
response carries ``signals``: ``harm_belief`` at t_inst and, with a refusal direction, the
``refusal`` score at t_post-inst.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harmscope.batching import MicroBatcher
from harmscope.config import TargetOptions
from harmscope.errors import TargetError
from harmscope.records import GenerationParams, Message, Response
from harmscope.targets.base import TargetProvider
from harmscope.targets.models import LoadedModel, load_model

if TYPE_CHECKING:
    from harmscope.latent.signals import LatentProbe

__all__ = ["HFTarget", "create"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Request:
    """One queued generation request."""

    messages: tuple[Message, ...]
    params: GenerationParams
    case_id: str
    started: float
    prompt_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Output:
    """What one batched generation produced for one prompt."""

    text: str
    finish_reason: str
    completion_tokens: int
    signals: dict[str, float] = field(default_factory=dict)


class HFTarget:
    """A local causal language model answering chat conversations.

    Args:
        spec: What :func:`~harmscope.targets.models.load_model` should load (alias, path,
            hub id); ignored when ``loaded`` is given, except for the target id.
        loaded: An already loaded model to use.
        max_batch: Most prompts generated together in one call.
        window_s: How long to wait for more requests after the first one arrives.
        dtype: Weight dtype when loading.
        latent: A latent probe fitted on this model; responses then carry its signals.

    Attributes:
        batches_run: Number of ``model.generate`` calls made so far.
        cases_run: Number of prompts generated so far.
    """

    def __init__(
        self,
        spec: str = "default",
        *,
        loaded: LoadedModel | None = None,
        max_batch: int = 32,
        window_s: float = 0.02,
        dtype: str = "float32",
        latent: LatentProbe | None = None,
    ) -> None:
        if max_batch < 1:
            raise TargetError(f"max_batch must be at least 1, not {max_batch}")
        self.id = f"hf/{spec}"
        self.loaded = loaded or load_model(spec, dtype=dtype)
        self.max_batch = max_batch
        self.window_s = window_s
        self.batches_run = 0
        self.cases_run = 0
        self.latent = latent
        self._post_ids: tuple[int, ...] | None = None
        self._batcher: MicroBatcher[_Request, Response] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def generate(
        self, messages: tuple[Message, ...], params: GenerationParams, *, case_id: str = ""
    ) -> Response:
        """Answer ``messages``; batched with whatever other requests arrive meanwhile."""
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        try:
            prompt_ids = self.encode(messages, params)
        except Exception as exc:  # a template that rejects the conversation, etc.
            return self._error(case_id, exc, started)
        request = _Request(messages, params, case_id, started, prompt_ids)
        [response] = await self._batcher_for(loop).submit_many([request])
        return response

    async def aclose(self) -> None:
        """Let go of the batcher (the model stays cached in the process).

        Requests already queued are still answered; the next request starts a new batcher.
        """
        self._batcher = self._loop = None

    # -- prompts ----------------------------------------------------------------------

    def encode(self, messages: Sequence[Message], params: GenerationParams) -> list[int]:
        """Token ids of the conversation rendered by the chat template, ready to answer."""
        chat = [{"role": m.role, "content": m.content} for m in messages]
        if params.system_prompt is not None and not any(m["role"] == "system" for m in chat):
            chat.insert(0, {"role": "system", "content": params.system_prompt})
        tokenizer = self.loaded.tokenizer
        from harmscope.chat import render_chat  # a base model gets plain text turns

        text = render_chat(tokenizer, chat)
        ids: list[int] = tokenizer(text, add_special_tokens=False)["input_ids"]
        if not ids:
            raise TargetError("the conversation encodes to no tokens")
        return ids

    # -- batching worker ----------------------------------------------------------------

    def _batcher_for(self, loop: asyncio.AbstractEventLoop) -> MicroBatcher[_Request, Response]:
        if self._batcher is None or self._loop is not loop:  # one batcher per event loop
            self._loop = loop
            self._batcher = MicroBatcher(
                self._run_round, max_batch=self.max_batch, max_wait_s=self.window_s, label=self.id
            )
        return self._batcher

    async def _run_round(self, pending: list[_Request]) -> list[Response]:
        """Answer one batcher call: every request gets a response, an error one if need be."""
        answers: dict[int, Response] = {}
        failure: Exception | None = None
        try:
            for chunk in self._chunks(pending):
                for request, response in zip(chunk, await self._run_chunk(chunk), strict=True):
                    answers[id(request)] = response
        except Exception as exc:  # never leave a caller waiting
            log.exception("batching worker failed")
            failure = exc
        return [
            answers.get(id(r))
            or self._error(r.case_id, failure or TargetError("no answer"), r.started)
            for r in pending
        ]

    def _chunks(self, pending: list[_Request]) -> list[list[_Request]]:
        """Group by parameters, sort each group by prompt length, cut into batches."""
        groups: dict[GenerationParams, list[_Request]] = {}
        for request in pending:  # the batcher already left out requests whose caller gave up
            groups.setdefault(request.params, []).append(request)
        chunks = []
        for group in groups.values():
            group.sort(key=lambda r: len(r.prompt_ids))
            chunks += [group[i : i + self.max_batch] for i in range(0, len(group), self.max_batch)]
        return chunks

    async def _run_chunk(self, chunk: list[_Request]) -> list[Response]:
        outputs: Sequence[_Output | Exception]
        try:
            outputs = await asyncio.to_thread(self._generate_batch, chunk)
        except Exception as exc:
            if len(chunk) > 1:  # find the culprit: one bad case must not sink the rest
                log.warning("batch of %d failed (%s); retrying one by one", len(chunk), exc)
                return [answer for request in chunk for answer in await self._run_chunk([request])]
            outputs = [exc]
        return [self._answer(r, output) for r, output in zip(chunk, outputs, strict=True)]

    def _answer(self, request: _Request, output: _Output | Exception) -> Response:
        if isinstance(output, Exception):
            return self._error(request.case_id, output, request.started)
        return Response(
            case_id=request.case_id,
            target_id=self.id,
            text=output.text,
            finish_reason=output.finish_reason,
            latency_s=time.perf_counter() - request.started,
            prompt_tokens=len(request.prompt_ids),
            completion_tokens=output.completion_tokens,
            signals=output.signals,
        )

    def _error(self, case_id: str, exc: Exception, started: float) -> Response:
        return Response(
            case_id=case_id,
            target_id=self.id,
            error=f"{type(exc).__name__}: {exc}",
            latency_s=time.perf_counter() - started,
        )

    # -- generation (worker thread) -------------------------------------------------------

    def _generate_batch(self, chunk: Sequence[_Request]) -> list[_Output]:
        """Run one left-padded ``generate`` call for requests sharing their parameters."""
        import torch
        from transformers import GenerationConfig

        model, tokenizer = self.loaded.model, self.loaded.tokenizer
        params = chunk[0].params
        width = max(len(r.prompt_ids) for r in chunk)
        input_ids = torch.full((len(chunk), width), tokenizer.pad_token_id, dtype=torch.long)
        attention = torch.zeros((len(chunk), width), dtype=torch.long)
        for row, request in enumerate(chunk):
            input_ids[row, width - len(request.prompt_ids) :] = torch.tensor(request.prompt_ids)
            attention[row, width - len(request.prompt_ids) :] = 1
        eos_ids = self._eos_ids()
        options: dict[str, Any] = {
            "max_new_tokens": params.max_new_tokens,
            "pad_token_id": tokenizer.pad_token_id,
            "eos_token_id": sorted(eos_ids) or None,
            "bos_token_id": model.generation_config.bos_token_id,
        }
        if params.temperature > 0:
            options |= {"do_sample": True, "temperature": params.temperature}
            options |= {"top_p": params.top_p, "top_k": 0}
        else:
            options["do_sample"] = False
        with (
            _model_lock(model),
            torch.inference_mode(),
            torch.random.fork_rng(devices=[]),
            self._prefill_capture() as hidden,
        ):
            torch.manual_seed(params.seed)
            generated = model.generate(
                input_ids=input_ids,
                attention_mask=attention,
                generation_config=GenerationConfig(**options),  # type: ignore[no-untyped-call]
            )
        self.batches_run += 1
        self.cases_run += len(chunk)
        outputs = [self._decode(row, eos_ids) for row in generated[:, width:].tolist()]
        for output, signals in zip(outputs, self._signals(chunk, hidden, width), strict=True):
            output.signals.update(signals)
        return outputs

    @property
    def cache_tag(self) -> str:
        """Appended to cache keys: answers with one probe's signals are not another's."""
        return f":latent={self.latent.fingerprint}" if self.latent is not None else ""

    # -- latent signals (worker thread) ---------------------------------------------------

    def _prefill_capture(self) -> contextlib.AbstractContextManager[dict[int, Any]]:
        if self.latent is None:
            return contextlib.nullcontext({})
        from harmscope.latent.signals import capture_prefill

        return capture_prefill(self.loaded.model, self.latent.layers)

    def _signals(
        self, chunk: Sequence[_Request], hidden: dict[int, Any], width: int
    ) -> list[dict[str, float]]:
        """Signals per request from the prefill pass (``{}`` where the template differs)."""
        if self.latent is None or not hidden:
            return [{} for _ in chunk]
        from harmscope.latent.signals import read_signals

        post = self._template_tail()
        n_post = len(post)
        ok = [
            bool(post) and len(r.prompt_ids) > n_post and tuple(r.prompt_ids[-n_post:]) == post
            for r in chunk
        ]
        rows = read_signals(
            self.latent,
            hidden,
            inst=[width - 1 - n_post] * len(chunk),
            last=[width - 1] * len(chunk),
        )
        return [row if good else {} for row, good in zip(rows, ok, strict=True)]

    def _template_tail(self) -> tuple[int, ...]:
        """The chat template's post-instruction token ids (empty without a template)."""
        if self._post_ids is None:
            from harmscope.latent.positions import template_layout

            try:
                self._post_ids = template_layout(self.loaded.tokenizer).post_ids
            except Exception:  # no chat template, or one the sentinels cannot locate
                log.warning("latent signals off: the chat template's closing tokens not found")
                self._post_ids = ()
        return self._post_ids

    def _eos_ids(self) -> set[int]:
        configured = self.loaded.model.generation_config.eos_token_id
        ids = set(configured if isinstance(configured, list) else [configured])
        ids.add(self.loaded.tokenizer.eos_token_id)
        ids.discard(None)
        return ids

    def _decode(self, row: list[int], eos_ids: set[int]) -> _Output:
        stop = next((i for i, token in enumerate(row) if token in eos_ids), None)
        kept = row if stop is None else row[:stop]
        text = self.loaded.tokenizer.decode(kept, skip_special_tokens=True)
        return _Output(
            text=text.strip(),
            finish_reason="length" if stop is None else "stop",
            completion_tokens=len(row) if stop is None else stop + 1,
        )


_locks: weakref.WeakKeyDictionary[Any, threading.Lock] = weakref.WeakKeyDictionary()
_locks_guard = threading.Lock()


def _model_lock(model: Any) -> threading.Lock:
    """One lock per model object: targets sharing a model take turns instead of competing."""
    with _locks_guard:
        return _locks.setdefault(model, threading.Lock())


def resolve_latent_probe(choice: str | None, model_id: str) -> LatentProbe | None:
    """The latent probe for a scan of ``model_id``.

    ``choice`` is ``None`` (the probe shipped for that model, if harmscope ships one),
    ``"none"`` (no probe) or the folder of a fitted probe.

    Raises:
        TargetError: The probe cannot be read, or was fitted on another model.
    """
    from harmscope.errors import DataError
    from harmscope.latent.signals import find_probe, load_probe

    if choice is not None and choice.lower() == "none":
        return None
    folder = find_probe(model_id) if choice is None else Path(choice)
    if folder is None:
        return None
    try:
        probe = load_probe(folder)
    except DataError as exc:
        raise TargetError(f"latent probe: {exc}") from None
    if probe.meta.model_id and probe.meta.model_id != model_id:
        raise TargetError(
            f"the latent probe in {folder} was fitted on {probe.meta.model_id}, not {model_id}"
        )
    return probe


def _create(model: str, options: TargetOptions) -> HFTarget:
    """Factory for ``hf/<alias|path|hub id>``; loads the model now.

    The latent probe comes from ``options.latent_probe`` (see :func:`resolve_latent_probe`).

    Raises:
        TargetError: A base URL was given, the model cannot be loaded, or the probe is unusable.
    """
    if options.base_url is not None:
        raise TargetError("hf/ targets run in-process and take no base URL; use openai/<model>")
    target = HFTarget(model)
    target.latent = resolve_latent_probe(options.latent_probe, target.loaded.model_id)
    return target


create = TargetProvider(
    _create, "hf/<alias|path|hub id> — local transformers model, GGUF included", concurrency=32
)
"""Factory for ``hf/<alias|path|hub id>`` (the concurrency is the generation batch size)."""
