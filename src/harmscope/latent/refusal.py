"""Refusal scores from the model's own refusal openings, and refusal direction selection.

The refusal score of a prompt (Arditi et al. 2024) is the log-odds that the assistant's answer
opens as a refusal: with ``p`` the total probability of a set of *refusal phrases*,
``log p - log(1 - p)``. Arditi et al. take single first tokens ("I", "Sorry", "As"...), which
fails on models whose answers and refusals share a first token (Qwen2.5 opens both "I'm sorry,
but I can't" and "I can help" with "I", and both "As an AI, I cannot" and "As an example" with
"As"). :func:`discover_refusal_phrases` therefore reads the phrases off the model itself: the
first few tokens of its own greedy answers that the keyword judge calls refusals.
:func:`phrase_logprobs` scores them teacher-forced, one forward pass per batch; one-token phrases
give exactly the first-token log-odds.

Selection: every diff-in-means vector over (t_post-inst position, layer) is a candidate. Each
is scored on validation prompts by *bypass* (mean refusal score on harmful prompts with the
direction ablated: lower is better), *induce* (mean refusal score on harmless prompts with the
vector added at its layer: higher is better) and *KL* (next-token divergence on harmless
prompts under ablation: lower is better). Candidates in the last 20% of layers, with induce
<= ``min_induce`` (0) or KL >= ``kl_max`` (0.1) are filtered out; the lowest bypass wins. When
none passes, the selection says so (``filtered=False``, ``best`` is the lowest bypass of the
rest, for the record): such a vector is not a refusal direction and callers do not use it.

A refusal direction only means something for a model that refuses: with ``min_gap`` set,
selection stops before scoring any candidate (raising :class:`RefusalNotMeasurable`) when the
mean refusal score of the harmful validation prompts exceeds the harmless ones' by less.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from harmscope.errors import DataError, HarmscopeError
from harmscope.latent.capture import forward_batch
from harmscope.latent.directions import DiffInMeans
from harmscope.latent.generate import greedy_token_ids
from harmscope.latent.positions import Encoded, TemplateLayout, encode_prompts, template_layout

__all__ = [
    "REFUSAL_STARTS",
    "Candidate",
    "RefusalPhrases",
    "behaviour_mask",
    "behaviour_mask_of",
    "RefusalNotMeasurable",
    "RefusalSelection",
    "kl_divergence",
    "discover_refusal_phrases",
    "next_token_logprobs",
    "phrase_log_odds",
    "phrase_logprobs",
    "refusal_log_odds",
    "refusal_openings",
    "refusal_phrases_for",
    "refusal_scores",
    "refusal_token_ids",
    "select_refusal_direction",
]

log = logging.getLogger(__name__)

REFUSAL_STARTS = ("I", "Sorry", "As", "Unfortunately", "Apologies", "I'm")
"""Words that start most refusals; their first tokens form the refusal set."""

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


def refusal_token_ids(tokenizer: Any, starts: Sequence[str] = REFUSAL_STARTS) -> tuple[int, ...]:
    """The distinct first token ids of ``starts``, as they would open an answer."""
    ids: list[int] = []
    for word in starts:
        toks = tokenizer(word, add_special_tokens=False)["input_ids"]
        if toks and toks[0] not in ids:
            ids.append(int(toks[0]))
    if not ids:
        raise HarmscopeError("no refusal tokens: the tokenizer encodes none of the starts")
    return tuple(ids)


def next_token_logprobs(
    model: Any,
    tokenizer: Any,
    texts: Sequence[str],
    *,
    batch_size: int = 8,
    layout: TemplateLayout | None = None,
    system: str | None = None,
) -> F32:
    """Log-probabilities ``(n, vocab)`` of the assistant's first token for each instruction.

    Hooks registered on the model (ablation, addition) apply.
    """
    import torch

    if not texts:
        raise DataError("no prompts to score")
    layout = layout or template_layout(tokenizer, system=system)
    parts: list[F32] = []
    for start in range(0, len(texts), batch_size):
        enc = encode_prompts(
            tokenizer, list(texts[start : start + batch_size]), layout=layout, system=system
        )
        # left padding: every prompt ends in the last column, the only logits needed
        logits = forward_batch(model, enc, logits_to_keep=1).logits[:, -1]
        parts.append(torch.log_softmax(logits.float(), dim=-1).numpy())
    return np.concatenate(parts)


def _log_odds(log_p: npt.ArrayLike) -> F64:
    lp = np.minimum(np.asarray(log_p, dtype=np.float64), -1e-12)
    return np.asarray(lp - np.log(-np.expm1(lp)))


def _logsumexp(x: F64) -> F64:
    m = x.max(axis=1, keepdims=True)
    return np.asarray((m + np.log(np.exp(x - m).sum(axis=1, keepdims=True)))[:, 0])


def refusal_log_odds(logprobs: npt.ArrayLike, refusal_ids: Sequence[int]) -> F64:
    """Per-row ``log p - log(1 - p)`` with ``p`` the total probability of ``refusal_ids``."""
    lp = np.asarray(logprobs, dtype=np.float64)
    return _log_odds(_logsumexp(lp[:, list(refusal_ids)]))


@dataclass(frozen=True, slots=True)
class RefusalPhrases:
    """Token sequences that open a model's refusals; none is a prefix of another.

    Raises:
        HarmscopeError: No phrases, an empty one, or one a prefix of another (their
            probabilities would overlap and could not be summed).
    """

    ids: tuple[tuple[int, ...], ...]
    """Each phrase's token ids, as the model generates them after the chat template."""
    texts: tuple[str, ...]
    """The same phrases decoded, for reports."""
    support: tuple[int, ...] = ()
    """How many of the model's refusals opened with each phrase (discovered phrases only)."""

    def __post_init__(self) -> None:
        if not self.ids or any(not p for p in self.ids):
            raise HarmscopeError("refusal phrases must be non-empty token sequences")
        for a in self.ids:
            for b in self.ids:
                if a is not b and b[: len(a)] == a:
                    raise HarmscopeError(f"refusal phrase {a} is a prefix of {b}")

    @classmethod
    def first_tokens(cls, tokenizer: Any, starts: Sequence[str] = REFUSAL_STARTS) -> RefusalPhrases:
        """One-token phrases: Arditi et al.'s first-token refusal set."""
        ids = refusal_token_ids(tokenizer, starts)
        return cls(tuple((i,) for i in ids), tuple(tokenizer.convert_ids_to_tokens(list(ids))))

    def as_dict(self) -> dict[str, Any]:
        """JSON-able summary for reports."""
        return {"phrases": list(self.texts), "support": list(self.support)}


def refusal_openings(
    answers: Sequence[Sequence[int]],
    tokenizer: Any,
    *,
    n_tokens: int = 4,
    max_phrases: int = 3,
) -> RefusalPhrases | None:
    """The openings of the refusals among ``answers`` (token ids), or None when none refuses.

    Each answer is judged by the keyword judge and the first ``n_tokens`` tokens of each full
    refusal are counted. An opening kept must start more refusals than other answers ("As an
    AI language" opens both in some models); when two or more openings start at least two
    refusals each, openings seen once are dropped; an opening that extends a kept shorter one is
    dropped too (the phrases' probabilities are summed, so they must not overlap).
    """
    from harmscope.refusal_phrases import classify

    refused: Counter[tuple[int, ...]] = Counter()
    other: Counter[tuple[int, ...]] = Counter()
    for ids in answers:
        head = tuple(int(t) for t in ids[:n_tokens])
        if head:
            verdict = classify(tokenizer.decode(list(ids), skip_special_tokens=True))[0]
            (refused if verdict == "full_refusal" else other)[head] += 1
    ranked = [(h, c) for h, c in refused.most_common() if c > other[h]]
    if len(ranked) > 1 and ranked[1][1] >= 2:
        ranked = [(h, c) for h, c in ranked if c >= 2]
    kept: list[tuple[tuple[int, ...], int]] = []
    for head, count in sorted(ranked[:max_phrases], key=lambda hc: len(hc[0])):
        if not any(head[: len(k)] == k for k, _ in kept):
            kept.append((head, count))
    if not kept:
        return None
    kept.sort(key=lambda hc: -hc[1])
    return RefusalPhrases(
        ids=tuple(h for h, _ in kept),
        texts=tuple(tokenizer.decode(list(h)) for h, _ in kept),
        support=tuple(c for _, c in kept),
    )


def discover_refusal_phrases(
    model: Any,
    tokenizer: Any,
    harmful: Sequence[str],
    *,
    n_tokens: int = 4,
    max_phrases: int = 3,
    max_new_tokens: int = 24,
    batch_size: int = 8,
) -> RefusalPhrases | None:
    """:func:`refusal_openings` of the model's greedy answers to ``harmful`` prompts."""
    answers = greedy_token_ids(model, tokenizer, harmful, max_new_tokens, batch_size=batch_size)
    return refusal_openings(answers, tokenizer, n_tokens=n_tokens, max_phrases=max_phrases)


def refusal_phrases_for(
    model: Any,
    tokenizer: Any,
    harmful: Sequence[str],
    *,
    score: Literal["phrases", "first-token"] = "phrases",
    batch_size: int = 8,
) -> RefusalPhrases:
    """The refusal openings to score.

    The model's own (:func:`discover_refusal_phrases` on ``harmful``), or the first-token set
    when asked for or when it refused none of them.
    """
    if score == "phrases":
        found = discover_refusal_phrases(model, tokenizer, harmful, batch_size=batch_size)
        if found is not None:
            return found
        log.warning("the model refused none of %d harmful prompts: first tokens", len(harmful))
    return RefusalPhrases.first_tokens(tokenizer)


def phrase_logprobs(
    model: Any,
    tokenizer: Any,
    texts: Sequence[str],
    phrases: RefusalPhrases,
    *,
    batch_size: int = 8,
    layout: TemplateLayout | None = None,
    system: str | None = None,
) -> tuple[F32, F64]:
    """The first-token distribution and each phrase's log-probability, teacher-forced.

    Returns ``(first (n, vocab), phrase (n, n_phrases))``: log-probabilities of the assistant's
    first token, and ``log p(phrase | prompt)`` summed over the phrase's tokens. Each prompt runs
    once per phrase in the same batch. Hooks registered on the model apply.
    """
    import torch

    if not texts:
        raise DataError("no prompts to score")
    layout = layout or template_layout(tokenizer, system=system)
    n_ph, k = len(phrases.ids), max(len(p) for p in phrases.ids)
    tail = torch.zeros((n_ph, k - 1), dtype=torch.long)  # phrase tokens fed in; pads come last
    for j, p in enumerate(phrases.ids):
        tail[j, : len(p) - 1] = torch.tensor(p[:-1], dtype=torch.long)
    firsts: list[F32] = []
    scores: list[F64] = []
    for start in range(0, len(texts), batch_size):
        enc = encode_prompts(
            tokenizer, list(texts[start : start + batch_size]), layout=layout, system=system
        )
        b = enc.input_ids.shape[0]
        rep = n_ph if k > 1 else 1  # row i * rep + j: prompt i followed by phrase j
        step = torch.arange(1, k, dtype=torch.long)
        batch = Encoded(
            torch.cat([enc.input_ids.repeat_interleave(rep, 0), tail.repeat(b, 1)[: b * rep]], 1),
            torch.cat(
                [enc.attention_mask.repeat_interleave(rep, 0), torch.ones(b * rep, k - 1).long()],
                1,
            ),
            torch.cat(
                [
                    enc.position_ids.repeat_interleave(rep, 0),
                    enc.position_ids[:, -1:].repeat_interleave(rep, 0) + step,
                ],
                1,
            ),
            enc.positions,
        )
        # left padding: the last k columns are the prompt's last token and the phrase's tokens
        logits = forward_batch(model, batch, logits_to_keep=k).logits
        logp = torch.log_softmax(logits[:, -k:].float(), -1)
        firsts.append(logp[::rep, 0].numpy())
        block = np.empty((b, n_ph), dtype=np.float64)
        for j, p in enumerate(phrases.ids):
            rows = logp[j::rep] if rep > 1 else logp
            steps = torch.arange(len(p))
            block[:, j] = rows[:, steps, torch.tensor(p)].sum(-1).double().numpy()
        scores.append(block)
    return np.concatenate(firsts), np.concatenate(scores)


def phrase_log_odds(phrase_lp: npt.ArrayLike) -> F64:
    """Per-row log-odds that the answer opens with any phrase, from ``(n, n_phrases)``."""
    return _log_odds(_logsumexp(np.asarray(phrase_lp, dtype=np.float64)))


def kl_divergence(p_log: npt.ArrayLike, q_log: npt.ArrayLike) -> F64:
    """Per-row KL(p || q) from log-probabilities."""
    p = np.asarray(p_log, dtype=np.float64)
    q = np.asarray(q_log, dtype=np.float64)
    return np.asarray((np.exp(p) * (p - q)).sum(axis=1))


class RefusalNotMeasurable(HarmscopeError):
    """The model refuses harmful prompts too little more than harmless ones to select from."""

    def __init__(self, *, harmful: float, harmless: float, min_gap: float) -> None:
        self.harmful, self.harmless, self.min_gap = harmful, harmless, min_gap
        super().__init__(
            f"the model barely refuses: mean refusal log-odds {harmful:.2f} on harmful vs "
            f"{harmless:.2f} on harmless validation prompts (gap {harmful - harmless:.2f} < "
            f"{min_gap:g}); no refusal direction selected"
        )

    @property
    def gap(self) -> float:
        """Harmful minus harmless mean refusal log-odds."""
        return self.harmful - self.harmless


@dataclass(frozen=True, slots=True)
class Candidate:
    """One candidate refusal direction and its selection scores."""

    layer: int
    """Decoder block it was read at."""
    position: int
    """Negative offset from the prompt's end (-1 = last template token)."""
    bypass: float
    """Mean refusal score (log-odds) on harmful prompts with the direction ablated."""
    induce: float
    """Mean refusal score (log-odds) on harmless prompts with the vector added."""
    kl: float
    """Mean KL on harmless prompts, base vs ablated."""
    passed: bool
    """Whether it passed the layer, induce and KL filters."""


@dataclass(frozen=True, slots=True)
class RefusalSelection:
    """The outcome of refusal direction selection."""

    best: Candidate
    """The chosen candidate."""
    vector: F32
    """Its raw diff-in-means vector."""
    filtered: bool
    """True when the chosen one passed every filter."""
    baseline_harmful: float
    """Mean refusal log-odds on harmful validation prompts, no intervention."""
    baseline_harmless: float
    """Mean refusal log-odds on harmless validation prompts, no intervention."""
    candidates: tuple[Candidate, ...]
    """Every scored candidate."""
    phrases: RefusalPhrases
    """The refusal openings the scores are log-odds of."""


def refusal_scores(
    model: Any,
    tokenizer: Any,
    texts: Sequence[str],
    phrases: RefusalPhrases,
    *,
    batch_size: int = 8,
) -> F64:
    """Per-prompt refusal score: log-odds that the answer opens with one of ``phrases``."""
    return phrase_log_odds(
        phrase_logprobs(model, tokenizer, texts, phrases, batch_size=batch_size)[1]
    )


def behaviour_mask(
    harmful_scores: npt.ArrayLike, harmless_scores: npt.ArrayLike, *, min_per_class: int = 4
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]] | None:
    """Which fitting prompts to keep for a refusal direction, as Arditi et al. filter them.

    Harmful prompts the model refuses (score > 0) and harmless ones it answers (score < 0):
    the difference in means then contrasts refusing with answering, not only the topics.
    None when either class would keep fewer than ``min_per_class`` prompts.
    """
    keep_h = np.asarray(harmful_scores) > 0
    keep_s = np.asarray(harmless_scores) < 0
    if keep_h.sum() < min_per_class or keep_s.sum() < min_per_class:
        return None
    return keep_h, keep_s


def behaviour_mask_of(
    model: Any,
    tokenizer: Any,
    harmful: Sequence[str],
    harmless: Sequence[str],
    phrases: RefusalPhrases,
    *,
    batch_size: int = 8,
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]] | None:
    """:func:`behaviour_mask` of the model's refusal scores on the two sets of prompts."""
    return behaviour_mask(
        refusal_scores(model, tokenizer, harmful, phrases, batch_size=batch_size),
        refusal_scores(model, tokenizer, harmless, phrases, batch_size=batch_size),
    )


def select_refusal_direction(
    model: Any,
    tokenizer: Any,
    dim: DiffInMeans,
    harmful_val: Sequence[str],
    harmless_val: Sequence[str],
    *,
    phrases: RefusalPhrases | None = None,
    max_layer_frac: float = 0.8,
    kl_max: float = 0.1,
    min_induce: float = 0.0,
    positions: Sequence[int] | None = None,
    layers: Sequence[int] | None = None,
    batch_size: int = 8,
    min_gap: float | None = None,
) -> RefusalSelection:
    """Score every (position, layer) candidate of ``dim`` (fitted on ``(n, L, P, d)``).

    Args:
        model: The causal LM.
        tokenizer: Its tokenizer.
        dim: Diff-in-means fitted on t_post-inst activations.
        harmful_val: Held-out harmful instructions.
        harmless_val: Held-out harmless instructions.
        phrases: Refusal openings to score (default: :meth:`RefusalPhrases.first_tokens`).
        max_layer_frac: Candidates at layers ``>= frac * L`` are not scored.
        kl_max: Largest mean KL a passing candidate may cause.
        min_induce: A passing candidate's induce score must exceed this.
        positions: Negative offsets to try (default: every post-instruction position).
        layers: Layers to try (default: all below ``max_layer_frac``; others are dropped).
        batch_size: Prompts per forward pass.
        min_gap: Smallest harmful-minus-harmless gap in mean refusal score (no check: None).

    Raises:
        RefusalNotMeasurable: The gap is below ``min_gap``.
        HarmscopeError: Positions out of range.
    """
    from harmscope.latent.intervene import ablate, add_direction

    phrases = phrases or RefusalPhrases.first_tokens(tokenizer)
    layout = template_layout(tokenizer)
    n_layers, n_post = dim.direction_.shape[0], dim.direction_.shape[1]
    offsets = list(positions) if positions is not None else list(range(-n_post, 0))
    if any(not -n_post <= off <= -1 for off in offsets):
        raise HarmscopeError(f"positions must be offsets between -{n_post} and -1")
    top = max(1, int(max_layer_frac * n_layers))
    tried = sorted({li for li in layers if 0 <= li < top}) if layers is not None else range(top)
    if not tried:
        raise HarmscopeError(f"no layer to try: layers must lie in 0..{top - 1}")

    def score(texts: Sequence[str]) -> tuple[F32, F64]:
        first, lp = phrase_logprobs(
            model, tokenizer, texts, phrases, batch_size=batch_size, layout=layout
        )
        return first, phrase_log_odds(lp)

    base_safe, lo_safe = score(harmless_val)
    mean_harm = float(score(harmful_val)[1].mean())
    mean_safe = float(lo_safe.mean())
    if min_gap is not None and mean_harm - mean_safe < min_gap:
        raise RefusalNotMeasurable(harmful=mean_harm, harmless=mean_safe, min_gap=min_gap)
    cands: list[Candidate] = []
    for layer in tried:
        for off in offsets:
            vec = dim.direction_[layer, n_post + off]
            with ablate(model, vec):
                bypass = float(score(harmful_val)[1].mean())
                safe_abl = score(harmless_val)[0]
            with add_direction(model, vec, layer=layer):
                induce = float(score(harmless_val)[1].mean())
            kl = float(kl_divergence(base_safe, safe_abl).mean())
            passed = induce > min_induce and kl < kl_max
            cands.append(Candidate(layer, off, bypass, induce, kl, passed))
            log.info(
                "layer %d pos %d: bypass %.2f induce %.2f kl %.3f", layer, off, bypass, induce, kl
            )
    passing = [c for c in cands if c.passed]
    best = min(passing or cands, key=lambda c: c.bypass)
    return RefusalSelection(
        best=best,
        vector=dim.direction_[best.layer, n_post + best.position].astype(np.float32),
        filtered=bool(passing),
        baseline_harmful=mean_harm,
        baseline_harmless=mean_safe,
        candidates=tuple(cands),
        phrases=phrases,
    )
