"""Metrics: a JSON spec turned into a function of logits, shared by patching and ablation.

``metric_from_spec(s, model, spec, tokens=...)`` returns a :class:`Metric`, which is a plain
callable ``logits [batch, pos, d_vocab] -> tensor`` (a scalar, or ``[batch]`` with
``"reduce": "none"``) that TransformerLens' patching functions accept as they are. It also
says which positions it reads (``positions``) and can be evaluated on the logits at those
positions only (``from_selected``): that is what lets a patching sweep unembed a handful of
positions instead of the whole sequence. The spec language is documented in
docs/metrics-spec.md.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from ..errors import LensError, int_range, nearest, require
from ..session import Session
from . import op
from .model import tokens_of
from .tensor import as_tensor

REDUCES = ("mean", "none")
TYPES = ("logit_diff", "normalized", "loss", "kl", "prob", "logit", "rank", "java")


class Metric:
    """A metric of logits that knows which positions it reads.

    ``positions`` is a ``[batch, k]`` index tensor (the logits the metric looks at, per prompt)
    or ``None`` when it needs every position. ``from_selected`` takes ``[batch, k, d_vocab]``
    (the logits at ``positions``; the full logits when ``positions`` is None) and returns the
    same value as calling the metric on the full logits.
    """

    def __init__(self, positions: torch.Tensor | None, fn: Callable[[torch.Tensor], torch.Tensor], describe: str) -> None:
        self.positions = positions
        self._fn = fn
        self.describe = describe

    def select(self, logits: torch.Tensor) -> torch.Tensor:
        if self.positions is None:
            return logits
        index = self.positions.to(logits.device)
        rows = torch.arange(logits.shape[0], device=logits.device)[:, None]
        return logits[rows, index]

    def from_selected(self, selected: torch.Tensor) -> torch.Tensor:
        return self._fn(selected)

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        if self.positions is not None:
            require(logits.dim() == 3 and logits.shape[0] == self.positions.shape[0],
                    f"metric {self.describe} expects logits [batch={self.positions.shape[0]}, pos, d_vocab], got {list(logits.shape)}",
                    "shape_mismatch", argument="logits", shape=list(logits.shape), expected=[self.positions.shape[0], None, None])
        return self.from_selected(self.select(logits))

    def __repr__(self) -> str:
        return f"Metric({self.describe})"


# -- tokens and positions ------------------------------------------------------------------

def token_id(s: Session | None, model: Any, token: Any, what: str) -> int:
    """A token given as an id or as a string that must be exactly one token."""
    if isinstance(token, bool) or not isinstance(token, (int, str)):
        raise LensError(f"{what} must be a token id or a single-token string, got {token!r}")
    if isinstance(token, str):
        from .model import to_single_token

        try:
            return to_single_token(s, model, token)
        except LensError as e:
            raise LensError(f"{what}: {e}", e.kind, **e.details) from None
    vocab = model.cfg.d_vocab_out if getattr(model.cfg, "d_vocab_out", None) else model.cfg.d_vocab
    require(0 <= token < vocab, f"{what}: token id {token} is out of range [0, {vocab})", got=token, valid=int_range(0, vocab - 1))
    return int(token)


def last_positions_of(model: Any, input: Any, tokens: torch.Tensor, prepend_bos: bool | None = None,
                      padding_side: str | None = None) -> list[int]:
    """Each prompt's last real token: the end of the prompt under right padding, else pos - 1.

    Only a list of strings can be padded by us; a token tensor is taken as it is (its last
    column), since its padding cannot be told apart from real tokens.
    """
    n = tokens.shape[1]
    if not (isinstance(input, list) and len(input) > 1 and all(isinstance(t, str) for t in input)):
        return [n - 1] * tokens.shape[0]
    side = padding_side or getattr(model.tokenizer, "padding_side", "right")
    if side == "left":
        return [n - 1] * tokens.shape[0]
    return [model.to_tokens(p, prepend_bos=prepend_bos).shape[1] - 1 for p in input]


def _per_prompt(value: Any, batch: int, what: str) -> list[Any]:
    """One value for all prompts, or a list with one per prompt."""
    if isinstance(value, list):
        require(len(value) in (1, batch), f"{what}: give one value for all prompts or one per prompt ({batch}), got {len(value)}",
                "shape_mismatch")
        return value * batch if len(value) == 1 else list(value)
    return [value] * batch


def resolve_positions(spec_positions: Any, batch: int, seq: int, last: list[int], what: str) -> torch.Tensor:
    """A spec's positions as a [batch, k] index tensor (negative positions count from the end)."""
    if spec_positions is None or spec_positions == "last":
        rows = [[p] for p in last]
    elif spec_positions == "all":
        rows = [list(range(seq))] * batch
    else:
        per = _per_prompt(spec_positions, batch, f"{what} positions")
        rows = [p if isinstance(p, list) else [p] for p in per]
        require(len({len(r) for r in rows}) == 1, f"{what} positions: every prompt must read the same number of positions")
    out = []
    for b, row in enumerate(rows):
        fixed = []
        for p in row:
            if isinstance(p, bool) or not isinstance(p, int):
                raise LensError(f"{what} positions must be integers, 'last', 'all' or null, got {p!r}")
            if not -seq <= p < seq:
                raise LensError(f"{what}: position {p} of prompt {b} is out of range for {seq} tokens (valid: {-seq}..{seq - 1})",
                                argument="positions", got=p, valid=int_range(-seq, seq - 1))
            fixed.append(p + seq if p < 0 else p)
        out.append(fixed)
    return torch.tensor(out, dtype=torch.int64)


def _reduce(value: torch.Tensor, reduce: str) -> torch.Tensor:
    return value.mean() if reduce == "mean" else value


def _check_reduce(spec: dict, what: str) -> str:
    reduce = spec.get("reduce", "mean")
    require(reduce in REDUCES, f"{what}: reduce must be one of {list(REDUCES)}, got {reduce!r}", argument="reduce", got=reduce,
            valid=list(REDUCES))
    return reduce


def _check_keys(spec: dict, allowed: set[str], what: str) -> None:
    unknown = sorted(set(spec) - allowed - {"type"})
    require(not unknown, f"{what}: unknown field(s) {unknown}; valid fields: {sorted(allowed)}", got=unknown,
            nearest=nearest(unknown[0], sorted(allowed)) if unknown else None, valid=sorted(allowed))


# -- the metrics ---------------------------------------------------------------------------

def metric_from_spec(
    s: Session | None,
    model: Any,
    spec: dict[str, Any],
    tokens: torch.Tensor | None = None,
    *,
    batch: int | None = None,
    seq: int | None = None,
    last_positions: list[int] | None = None,
    clean_logits: torch.Tensor | None = None,
    corrupted_logits: torch.Tensor | None = None,
) -> Metric:
    """The metric a spec describes, for prompts of ``batch`` x ``seq`` tokens.

    ``tokens`` (the run the metric is evaluated on) gives batch and seq and is needed by
    ``loss``; ``last_positions`` says where each prompt ends (see ``last_positions_of``).
    ``clean_logits`` / ``corrupted_logits`` fill in a ``normalized`` spec's missing
    ``clean`` / ``corrupted`` values.
    """
    if tokens is not None:
        batch, seq = tokens.shape
    require(batch is not None and seq is not None, "internal: metric_from_spec needs tokens or batch and seq", "python_error")
    last = last_positions if last_positions is not None else [seq - 1] * batch
    require(len(last) == batch, f"internal: {len(last)} last positions for a batch of {batch}", "python_error")
    if not isinstance(spec, dict) or "type" not in spec:
        raise LensError(f"a metric spec must be a JSON object with a 'type'; valid types: {list(TYPES)}; got {spec!r}",
                        argument="type", valid=list(TYPES))
    kind = spec["type"]
    what = f"metric {kind!r}"

    if kind == "logit_diff":
        _check_keys(spec, {"answers", "positions", "reduce"}, what)
        reduce = _check_reduce(spec, what)
        answers = spec.get("answers")
        require(isinstance(answers, list) and answers, f"{what}: 'answers' must be [[correct, incorrect], ...] (one pair, or one per prompt)")
        if len(answers) == 2 and not isinstance(answers[0], list):
            answers = [answers]
        pairs = _per_prompt(answers, batch, f"{what} answers")
        ids = []
        for b, pair in enumerate(pairs):
            require(isinstance(pair, list) and len(pair) == 2, f"{what}: answer {b} must be a [correct, incorrect] pair, got {pair!r}")
            ids.append([token_id(s, model, t, f"{what} answer {b}") for t in pair])
        ids_t = torch.tensor(ids, dtype=torch.int64)
        positions = resolve_positions(spec.get("positions"), batch, seq, last, what)

        def logit_diff(sel: torch.Tensor) -> torch.Tensor:
            # sel [batch, k, vocab]; the pair's difference at each read position, averaged over them
            idx = ids_t.to(sel.device)[:, None, :].expand(-1, sel.shape[1], -1)
            picked = sel.gather(-1, idx)
            return _reduce((picked[..., 0] - picked[..., 1]).mean(-1), reduce)

        return Metric(positions, logit_diff, f"logit_diff({reduce})")

    if kind == "normalized":
        _check_keys(spec, {"of", "clean", "corrupted"}, what)
        inner_spec = spec.get("of")
        require(isinstance(inner_spec, dict), f"{what}: 'of' must be a metric spec, e.g. {{'type': 'logit_diff', ...}}")
        require(inner_spec.get("type") not in ("normalized",), f"{what}: 'of' cannot itself be normalized")
        inner = metric_from_spec(s, model, inner_spec, tokens, batch=batch, seq=seq, last_positions=last)
        ends = {}
        for name, logits in (("clean", clean_logits), ("corrupted", corrupted_logits)):
            value = spec.get(name)
            if value is None:
                require(logits is not None,
                        f"{what}: give '{name}' (the metric's value on the {name} run); only patching ops can fill it in for you")
                ends[name] = inner(logits).detach()
            else:
                require(isinstance(value, (int, float, list)) and not isinstance(value, bool),
                        f"{what}: '{name}' must be a number (or a list, one per prompt), got {value!r}")
                ends[name] = torch.as_tensor(value, dtype=torch.float32)
        span = ends["clean"] - ends["corrupted"]
        require(bool((span != 0).all()), f"{what}: clean and corrupted values are equal ({ends['clean'].tolist()}), so there is no scale to normalize by")

        def normalized(sel: torch.Tensor) -> torch.Tensor:
            value = inner.from_selected(sel)
            return (value - ends["corrupted"].to(value.device)) / span.to(value.device)

        m = Metric(inner.positions, normalized, f"normalized({inner.describe})")
        m.clean, m.corrupted = ends["clean"], ends["corrupted"]  # type: ignore[attr-defined]
        return m

    if kind == "loss":
        _check_keys(spec, {"reduce"}, what)
        reduce = _check_reduce(spec, what)
        require(tokens is not None, f"{what} needs the tokens of the run it is evaluated on: pass 'input'")
        require(seq >= 2, f"{what} needs at least 2 tokens per prompt")
        targets = tokens[:, 1:]

        def loss(sel: torch.Tensor) -> torch.Tensor:
            logp = sel[:, :-1].log_softmax(-1)
            nll = -logp.gather(-1, targets.to(sel.device)[..., None])[..., 0]
            return nll.mean() if reduce == "mean" else nll.mean(-1)

        return Metric(None, loss, f"loss({reduce})")

    if kind == "kl":
        _check_keys(spec, {"reference", "positions", "reduce"}, what)
        reduce = _check_reduce(spec, what)
        require("reference" in spec, f"{what}: 'reference' (logits [batch, pos, d_vocab] or [batch, d_vocab]) is required")
        ref = as_tensor(spec["reference"]).float()
        positions = resolve_positions(spec.get("positions"), batch, seq, last, what)
        if ref.dim() == 3:
            require(tuple(ref.shape[:2]) == (batch, seq),
                    f"{what}: reference logits have shape {list(ref.shape)}, expected [batch={batch}, pos={seq}, d_vocab]", "shape_mismatch",
                    argument="reference", shape=list(ref.shape), expected=[batch, seq, None])
            ref_sel = ref[torch.arange(batch)[:, None], positions]
        elif ref.dim() == 2:
            require(ref.shape[0] == batch and positions.shape[1] == 1,
                    f"{what}: reference of shape {list(ref.shape)} needs one read position per prompt and batch {batch}", "shape_mismatch")
            ref_sel = ref[:, None, :]
        else:
            raise LensError(f"{what}: reference must be [batch, pos, d_vocab] or [batch, d_vocab], got {list(ref.shape)}", "shape_mismatch")
        ref_logp = ref_sel.log_softmax(-1)

        def kl(sel: torch.Tensor) -> torch.Tensor:
            r = ref_logp.to(sel.device)
            require(sel.shape[-1] == r.shape[-1], f"{what}: reference has {r.shape[-1]} logits per position, the model {sel.shape[-1]}", "shape_mismatch")
            div = (r.exp() * (r - sel.log_softmax(-1))).sum(-1).mean(-1)
            return _reduce(div, reduce)

        return Metric(positions, kl, f"kl({reduce})")

    if kind in ("prob", "logit", "rank"):
        _check_keys(spec, {"token", "position", "positions", "reduce"}, what)
        reduce = _check_reduce(spec, what)
        require("token" in spec, f"{what}: 'token' (an id or a single-token string, or one per prompt) is required")
        tokens_per = _per_prompt(spec["token"], batch, f"{what} token")
        ids_t = torch.tensor([token_id(s, model, t, f"{what} token") for t in tokens_per], dtype=torch.int64)
        pos_spec = spec.get("positions", spec.get("position"))
        positions = resolve_positions(pos_spec, batch, seq, last, what)

        def of_token(sel: torch.Tensor) -> torch.Tensor:
            idx = ids_t.to(sel.device)[:, None, None].expand(-1, sel.shape[1], 1)
            if kind == "prob":
                value = sel.softmax(-1).gather(-1, idx)[..., 0]
            elif kind == "logit":
                value = sel.gather(-1, idx)[..., 0]
            else:  # rank 0 is the top token; ties rank as the best of them
                value = (sel > sel.gather(-1, idx)).sum(-1).to(sel.dtype)
            return _reduce(value.mean(-1), reduce)

        return Metric(positions, of_token, f"{kind}({reduce})")

    if kind == "java":
        _check_keys(spec, {"id"}, what)
        require(isinstance(spec.get("id"), int), f"{what}: 'id' must be the integer id of the Java metric")
        require(s is not None, f"{what}: a Java metric needs a session that can call back into Java", "callback_failed")
        metric_id = spec["id"]

        def java(logits: torch.Tensor) -> torch.Tensor:
            answer = s.callback("metric", {"id": metric_id, "logits": logits})
            if isinstance(answer, dict) and "value" in answer:
                answer = answer["value"]
            try:
                return as_tensor(answer).float().to(logits.device)
            except LensError as e:
                raise LensError(f"Java metric {metric_id} returned {type(answer).__name__}: expected a number or a tensor ({e})",
                                "callback_failed") from None

        return Metric(None, java, f"java({metric_id})")

    raise LensError(f"unknown metric type {kind!r}; valid types: {list(TYPES)}", argument="type", got=kind,
                    nearest=nearest(kind, list(TYPES)) if isinstance(kind, str) else None, valid=list(TYPES))


# -- ops ------------------------------------------------------------------------------------

def _input_context(s: Session, model: Any, logits: torch.Tensor, input: Any, prepend_bos: bool | None,
                   padding_side: str | None) -> tuple[torch.Tensor | None, list[int] | None]:
    require(logits.dim() == 3, f"logits must have shape [batch, pos, d_vocab], got {list(logits.shape)}", "shape_mismatch",
            argument="logits", shape=list(logits.shape), expected=[None, None, None])
    if input is None:
        return None, None
    tokens = tokens_of(model, input, prepend_bos, padding_side)
    require(tuple(tokens.shape) == tuple(logits.shape[:2]),
            f"input has {list(tokens.shape)} tokens but the logits are for [batch, pos] = {list(logits.shape[:2])}", "shape_mismatch",
            argument="input", shape=list(tokens.shape), expected=list(logits.shape[:2]))
    return tokens, last_positions_of(model, input, tokens, prepend_bos, padding_side)


@op("metrics.evaluate")
def evaluate(s: Session, model: Any, logits: Any, spec: dict[str, Any], input: Any = None, prepend_bos: bool | None = None,
             padding_side: str | None = None, clean_logits: Any = None, corrupted_logits: Any = None) -> Any:
    """A metric spec on logits; ``input`` (the prompts or tokens) sets the last positions and loss targets."""
    logits = as_tensor(logits)
    tokens, last = _input_context(s, model, logits, input, prepend_bos, padding_side)
    metric = metric_from_spec(
        s, model, spec, tokens, batch=logits.shape[0], seq=logits.shape[1], last_positions=last,
        clean_logits=None if clean_logits is None else as_tensor(clean_logits),
        corrupted_logits=None if corrupted_logits is None else as_tensor(corrupted_logits),
    )
    value = metric(logits).detach()
    return value.item() if value.dim() == 0 else value


@op("metrics.logit_diff")
def logit_diff(s: Session, model: Any, logits: Any, answers: list[Any], positions: Any = None, reduce: str = "mean",
               input: Any = None, prepend_bos: bool | None = None, padding_side: str | None = None) -> Any:
    """logit[correct] - logit[incorrect] at the last (or given) positions."""
    spec = {"type": "logit_diff", "answers": answers, "positions": positions, "reduce": reduce}
    return evaluate(s, model, logits, spec, input=input, prepend_bos=prepend_bos, padding_side=padding_side)
