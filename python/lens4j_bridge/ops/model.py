"""Models: load (hub name, local Hugging Face directory, bundled toy model, random init),
config, weights, tokenization and plain runs (forward, run_with_cache).

Models live in the handle table as TransformerLens ``TransformerBridge`` objects, so the
other areas (hooks, patching, analysis, viz) receive the bridge itself as ``model``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from ..errors import LensError, int_range, nearest, require, warn
from ..session import Session
from . import op

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
torch.set_grad_enabled(False)  # analyses are inference; gradients are asked for explicitly

TOY_MODELS_DIR = Path(__file__).resolve().parents[1] / "toy" / "models"

DTYPES = {
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float64": torch.float64,
}


def bundled_models() -> list[str]:
    if not TOY_MODELS_DIR.is_dir():
        return []
    return sorted(p.name for p in TOY_MODELS_DIR.iterdir() if (p / "config.json").is_file())


def resolve_device(device: str | None) -> str:
    if device in (None, "", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise LensError(f"device {device!r} was asked for, but torch sees no CUDA device; use 'cpu' or 'auto'")
    if not (device == "cpu" or device == "cuda" or device.startswith("cuda:") or device == "mps"):
        raise LensError(f"unknown device {device!r}; valid: 'auto', 'cpu', 'cuda', 'cuda:N'", argument="device", got=device,
                        valid=["auto", "cpu", "cuda", "cuda:N"])
    return device


def resolve_dtype(dtype: str) -> torch.dtype:
    try:
        return DTYPES[dtype]
    except KeyError:
        raise LensError(f"unknown model dtype {dtype!r}; valid: {sorted(DTYPES)}", argument="dtype", got=dtype,
                        valid=sorted(DTYPES)) from None


def resolve_source(name: str) -> tuple[str, str]:
    """(kind, where): a bundled toy model, a local directory, or a hub name."""
    if name in bundled_models():
        return "bundled", str(TOY_MODELS_DIR / name)
    path = Path(name).expanduser()
    if path.is_dir():
        require((path / "config.json").is_file(), f"{path} is a directory but holds no config.json: not a Hugging Face model directory", "unknown_model")
        return "local", str(path)
    if name.startswith(("/", "./", "../", "~")):
        raise LensError(f"no model directory at {name}", "unknown_model")
    return "hub", name


def hub_hint() -> str:
    """What to change when a hub name did not load: lens4j's offline default, the cache, the token."""
    cache = os.environ.get("HF_HUB_CACHE") or os.path.join(
        os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface"), "hub")
    if os.environ.get("LENS4J_OFFLINE") == "1":
        return ("lens4j runs offline by default (it sets HF_HUB_OFFLINE=1 for its worker), so a hub name loads only "
                f"from the Hugging Face cache ({cache}); to download, set LENS4J_OFFLINE=0 or start the Lens with "
                "EngineOptions.defaults().withOffline(false) (a gated model also needs HF_TOKEN, which the worker "
                "inherits). ")
    token = "set" if os.environ.get("HF_TOKEN") else "not set"
    mode = ("HF_HUB_OFFLINE is set in your environment, so only the cache is read"
            if os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0", "false") else "Online")
    return f"{mode}: the Hugging Face cache is {cache}; HF_TOKEN, needed for gated models, is {token}. "


@op("model.load")
def load(
    s: Session,
    name: str,
    device: str = "auto",
    dtype: str = "float32",
    compatibility_mode: bool = True,
    fold_ln: bool = True,
    center_writing_weights: bool = True,
    center_unembed: bool = True,
    fold_value_biases: bool = True,
    refactor_factored_attn_matrices: bool = False,
    n_devices: int | None = None,
    device_map: str | None = None,
    torch_weights_only: bool | None = None,
) -> dict[str, Any]:
    from transformer_lens.model_bridge import TransformerBridge

    kind, where = resolve_source(name)
    if torch_weights_only is None:
        torch_weights_only = os.environ.get(TORCH_WEIGHTS_ONLY_ENV, "") == "1"
    device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype)
    boot_args: dict[str, Any] = {"device": device, "dtype": torch_dtype}
    if n_devices is not None:
        boot_args["n_devices"] = n_devices
    if device_map is not None:
        boot_args["device_map"] = device_map
        boot_args.pop("device")
    try:
        with _pickle_weights_guard(name, torch_weights_only):
            model = TransformerBridge.boot_transformers(where, **boot_args)
    except (OSError, ValueError) as e:
        if kind != "hub":
            raise LensError(f"could not load the model at {where}: {e}", "unknown_model") from e
        raise LensError(
            f"could not load {name!r} from the model hub ({type(e).__name__}: {str(e)[:300]}). "
            f"{hub_hint()}"
            f"Bundled models, which need no network: {bundled_models()}; "
            "a local Hugging Face directory (save_pretrained) also works.",
            "unknown_model", got=name, nearest=nearest(name, bundled_models()), valid=bundled_models(),
        ) from e
    if compatibility_mode:
        model.enable_compatibility_mode(
            disable_warnings=True,
            fold_ln=fold_ln,
            center_writing_weights=center_writing_weights,
            center_unembed=center_unembed,
            fold_value_biases=fold_value_biases,
            refactor_factored_attn_matrices=refactor_factored_attn_matrices,
        )
    model.eval()
    return describe(s, model, name=name, source=kind)


TORCH_WEIGHTS_ONLY_ENV = "LENS4J_TORCH_WEIGHTS_ONLY"
_PICKLE_ADVICE = (
    "lens4j loads weights from safetensors only by default, since a pickle file is a program. "
    "If you trust it, load it with torch's weights-only unpickler (it admits tensors and plain containers, "
    f"nothing callable): LoadOptions.defaults().withTorchWeightsOnly(true), or {TORCH_WEIGHTS_ONLY_ENV}=1 in the "
    "worker's environment. Better: save the model once as safetensors (save_pretrained(..., safe_serialization=True))."
)


@contextlib.contextmanager
def _pickle_weights_guard(name: str, allowed: bool) -> Iterator[None]:
    """While a model loads, every torch.load (how transformers reads pytorch_model.bin) is
    refused, or, when allowed, forced through torch's weights-only unpickler; a folder with
    safetensors never gets here. Ops run one at a time, so the swap is seen by this load only."""
    original = torch.load

    def guarded(f: Any, *args: Any, **kwargs: Any) -> Any:
        where = os.fspath(f) if isinstance(f, (str, os.PathLike)) else type(f).__name__
        if not allowed:
            raise LensError(f"{name}: its weights are a pickle ({os.path.basename(where)}) and it has no safetensors. "
                            + _PICKLE_ADVICE, "unknown_model")
        kwargs["weights_only"] = True
        try:
            return original(f, *args, **kwargs)
        except Exception as e:
            if type(e).__name__ != "UnpicklingError":
                raise
            # torch's message ends by suggesting weights_only=False, which would run the pickle: keep only its reason
            reason = next((line.strip() for line in str(e).splitlines() if "WeightsUnpickler error" in line),
                          str(e).splitlines()[0] if str(e) else "not a plain weights file")
            raise LensError(f"{name}: torch's weights-only unpickler refused {os.path.basename(where)} ({reason}); "
                            "it holds more than tensors, so lens4j will not load it. Convert the model to safetensors "
                            "with a tool you trust.", "unknown_model") from None

    torch.load = guarded
    try:
        yield
    finally:
        torch.load = original


@op("model.native")
def native(s: Session, config: dict[str, Any], tokenizer: str | None = None, device: str = "auto", dtype: str = "float32") -> dict[str, Any]:
    """A random-init TransformerLens-native model from a config dict (boot_native)."""
    import transformer_lens.model_bridge.sources.native  # noqa: F401  (attaches boot_native)
    from transformer_lens.model_bridge import TransformerBridge

    tok = None
    if tokenizer is not None:
        from transformers import AutoTokenizer

        kind, where = resolve_source(tokenizer)
        require(kind != "hub", f"tokenizer {tokenizer!r} must be a bundled model or a local directory")
        tok = AutoTokenizer.from_pretrained(where)
    try:
        model = TransformerBridge.boot_native(dict(config), tokenizer=tok, device=resolve_device(device), dtype=resolve_dtype(dtype))
    except (TypeError, ValueError, KeyError) as e:
        raise LensError(f"bad native config: {e}") from e
    return describe(s, model, name=config.get("model_name", "native"), source="native")


CONFIG_FIELDS = [
    "model_name", "n_layers", "n_heads", "d_model", "d_head", "d_mlp", "d_vocab", "d_vocab_out", "n_ctx",
    "act_fn", "normalization_type", "positional_embedding_type", "attn_only", "n_key_value_heads",
    "rotary_dim", "parallel_attn_mlp", "original_architecture", "default_prepend_bos",
    "tokenizer_prepends_bos", "use_attn_result", "use_split_qkv_input", "use_hook_mlp_in",
]


def config_dict(model: Any) -> dict[str, Any]:
    cfg = model.cfg
    out: dict[str, Any] = {}
    for field in CONFIG_FIELDS:
        value = getattr(cfg, field, None)
        out[field] = value if isinstance(value, (int, float, str, bool)) or value is None else str(value)
    out["device"] = str(next(model.parameters()).device)
    out["dtype"] = str(getattr(cfg, "dtype", torch.float32)).removeprefix("torch.")
    return out


def describe(s: Session, model: Any, name: str, source: str) -> dict[str, Any]:
    return {"$h": s.handles.put(model), "type": "model", "name": name, "source": source, "cfg": config_dict(model)}


@op("model.cfg")
def cfg(s: Session, model: Any) -> dict[str, Any]:
    return config_dict(model)


@op("model.hook_names")
def hook_names(s: Session, model: Any) -> list[str]:
    return sorted(model.hook_dict.keys())


@op("model.bundled")
def bundled(s: Session) -> list[str]:
    return bundled_models()


GLOBAL_WEIGHTS = ["W_U", "b_U", "W_E", "W_pos"]
LAYER_WEIGHTS = ["W_Q", "W_K", "W_V", "W_O", "b_Q", "b_K", "b_V", "b_O", "W_in", "W_out", "b_in", "b_out"]
WEIGHTS = GLOBAL_WEIGHTS + LAYER_WEIGHTS


@op("model.weight")
def weight(s: Session, model: Any, name: str, layer: int | None = None) -> torch.Tensor:
    """A weight as TransformerLens names it; per-layer weights are stacked unless ``layer`` is given."""
    if name not in WEIGHTS:
        raise LensError(f"unknown weight {name!r}; valid: {WEIGHTS}", argument="name", got=name,
                        nearest=nearest(name, WEIGHTS) if isinstance(name, str) else None, valid=WEIGHTS)
    value = getattr(model, name)
    if layer is not None:
        n = model.cfg.n_layers
        require(-n <= layer < n, f"layer {layer} is out of range for a model with {n} layers", argument="layer", got=layer,
                valid=int_range(-n, n - 1))
        require(name in LAYER_WEIGHTS, f"{name} is not a per-layer weight; per-layer weights: {LAYER_WEIGHTS}",
                argument="name", got=name, valid=LAYER_WEIGHTS)
        value = value[layer]
    return value.detach()


# -- tokens -------------------------------------------------------------------------------

def tokens_of(model: Any, input: Any, prepend_bos: bool | None = None, padding_side: str | None = None) -> torch.Tensor:
    """Any model input (a string, a list of strings, or a token tensor) as a [batch, pos] token tensor."""
    if isinstance(input, torch.Tensor):
        require(input.dtype in (torch.int64, torch.int32), f"tokens must be an integer tensor, got {input.dtype}")
        tokens = input if input.dim() == 2 else input.unsqueeze(0)
        require(tokens.dim() == 2, f"tokens must have shape [batch, pos] or [pos], got {list(input.shape)}",
                argument="input", shape=list(input.shape), expected=[None, None])
        require(tokens.numel() > 0, "tokens are empty")
        vocab = model.cfg.d_vocab
        require(int(tokens.min()) >= 0 and int(tokens.max()) < vocab, f"token ids must be in [0, {vocab})", argument="input",
                valid=int_range(0, vocab - 1))
        return tokens.to(torch.int64).to(next(model.parameters()).device)
    if isinstance(input, str):
        input = [input]
    require(isinstance(input, list) and all(isinstance(t, str) for t in input),
            f"input must be a string, a list of strings or a token tensor, got {type(input).__name__}")
    require(len(input) > 0, "the batch of prompts is empty: give at least one prompt")
    _check_padding_side(padding_side)
    tokens = model.to_tokens(input, prepend_bos=prepend_bos, padding_side=padding_side)
    _warn_unknown(model, input, tokens)
    return tokens


def unknown_token_id(model: Any) -> int | None:
    """The tokenizer's unknown-word token, or None where it has none that a text can become: byte-level
    BPE (GPT-2) spells every text, and its unk_token is <|endoftext|>, the BOS, which must not count."""
    tok = getattr(model, "tokenizer", None)
    unk = getattr(tok, "unk_token_id", None)
    if unk is None or unk in (tok.bos_token_id, tok.eos_token_id, tok.pad_token_id):
        return None
    return int(unk)


def _warn_unknown(model: Any, prompts: list[str], tokens: torch.Tensor) -> None:
    """Words outside the vocabulary all become one token, so results silently stop seeing them: say so."""
    unk = unknown_token_id(model)
    if unk is None:
        return
    rows = [i for i in range(tokens.shape[0]) if bool((tokens[i] == unk).any())]
    if rows:
        shown = "; ".join(f"prompt {i} {prompts[i][:60]!r}: {int((tokens[i] == unk).sum())}" for i in rows[:3])
        warn(f"{len(rows)} of {len(prompts)} prompt(s) hold words outside the tokenizer's vocabulary, which became "
             f"the unknown token {model.tokenizer.unk_token!r} (id {unk}), so the model does not see them ({shown}"
             f"{'; ...' if len(rows) > 3 else ''}); model.toStrTokens shows where")


def _check_padding_side(padding_side: str | None) -> None:
    require(padding_side in (None, "left", "right"), f"padding_side must be 'left' or 'right', got {padding_side!r}",
            argument="padding_side", got=padding_side, valid=["left", "right"])


@op("model.to_tokens")
def to_tokens(s: Session, model: Any, input: Any, prepend_bos: bool | None = None, padding_side: str | None = None) -> torch.Tensor:
    return tokens_of(model, input, prepend_bos, padding_side)


@op("model.to_str_tokens")
def to_str_tokens(s: Session, model: Any, input: Any, prepend_bos: bool | None = None) -> list[Any]:
    if isinstance(input, list) and input and all(isinstance(t, str) for t in input):
        return [model.to_str_tokens(t, prepend_bos=prepend_bos) for t in input]
    if isinstance(input, torch.Tensor) and input.dim() == 2:
        return [model.to_str_tokens(row) for row in input]
    require(isinstance(input, (str, torch.Tensor)), "input must be a string, a list of strings or a token tensor")
    return model.to_str_tokens(input, prepend_bos=prepend_bos)


@op("model.to_string")
def to_string(s: Session, model: Any, tokens: Any) -> Any:
    if isinstance(tokens, list):
        tokens = torch.tensor(tokens, dtype=torch.int64)
    require(isinstance(tokens, torch.Tensor), "tokens must be a token tensor or a list of token ids")
    if tokens.dim() == 2:
        return [model.to_string(row) for row in tokens]
    return model.to_string(tokens)


@op("model.to_single_token")
def to_single_token(s: Session, model: Any, text: str) -> int:
    tokens = model.to_tokens(text, prepend_bos=False)[0]
    if tokens.numel() != 1:
        pieces = model.to_str_tokens(text, prepend_bos=False)
        raise LensError(
            f"{text!r} is not a single token: it is {len(pieces)} tokens {pieces}. "
            "Mind the leading space: ' Mary' and 'Mary' are different tokens.",
            "not_single_token", got=text, tokens=list(pieces),
        )
    unk = unknown_token_id(model)
    if unk is not None and int(tokens[0]) == unk:
        raise LensError(
            f"{text!r} is not in the tokenizer's vocabulary: it becomes the unknown token {model.tokenizer.unk_token!r} "
            f"(id {unk}), as every unknown word does, so a number computed from it would measure that token, not "
            f"{text!r}. Use a word the tokenizer knows (toStrTokens shows how a text splits).",
            "not_single_token", got=text, tokens=[model.tokenizer.unk_token],
        )
    return int(tokens[0])


@op("model.get_token_position")
def get_token_position(s: Session, model: Any, token: Any, input: Any, mode: str = "first", prepend_bos: bool | None = None) -> int:
    require(mode in ("first", "last"), f"mode must be 'first' or 'last', got {mode!r}", argument="mode", got=mode,
            valid=["first", "last"])
    if isinstance(token, str):
        token = to_single_token(s, model, token)
    try:
        return int(model.get_token_position(token, input, mode=mode, prepend_bos=prepend_bos))
    except (AssertionError, IndexError, ValueError) as e:
        raise LensError(f"token {token!r} is not in the input: {e}") from e


@op("model.tokens_to_residual_directions")
def tokens_to_residual_directions(s: Session, model: Any, tokens: Any) -> torch.Tensor:
    if isinstance(tokens, str):
        tokens = to_single_token(s, model, tokens)
    if isinstance(tokens, list):
        tokens = torch.tensor([to_single_token(s, model, t) if isinstance(t, str) else int(t) for t in tokens])
    return model.tokens_to_residual_directions(tokens)


# -- runs ---------------------------------------------------------------------------------

RETURN_TYPES = ("logits", "loss", "both", "none")


def check_return_type(return_type: str) -> str | None:
    require(return_type in RETURN_TYPES, f"return_type must be one of {list(RETURN_TYPES)}, got {return_type!r}",
            argument="return_type", got=return_type, valid=list(RETURN_TYPES))
    return None if return_type == "none" else return_type


def check_stop_at_layer(model: Any, stop_at_layer: int | None) -> None:
    if stop_at_layer is not None:
        n = model.cfg.n_layers
        require(-n <= stop_at_layer <= n, f"stop_at_layer {stop_at_layer} is out of range for a model with {n} layers",
                argument="stop_at_layer", got=stop_at_layer, valid=int_range(-n, n))


def check_hook_names(model: Any, names: list[str]) -> None:
    valid = model.hook_dict.keys()
    for name in names:
        if name not in valid:
            close = nearest(name, sorted(valid))
            raise LensError(f"unknown hook name {name!r}; nearest valid names: {close}", "unknown_hook", nearest=close, got=name)


def pack_output(output: Any, return_type: str) -> Any:
    if return_type == "both":
        logits, loss = output
        return {"logits": logits, "loss": loss}
    return {return_type: output} if return_type != "none" else {}


@op("model.forward")
def forward(
    s: Session, model: Any, input: Any, return_type: str = "logits", prepend_bos: bool | None = None,
    padding_side: str | None = None, loss_per_token: bool = False, stop_at_layer: int | None = None,
) -> Any:
    rt = check_return_type(return_type)
    check_stop_at_layer(model, stop_at_layer)
    tokens = tokens_of(model, input, prepend_bos, padding_side)
    kwargs: dict[str, Any] = {"return_type": rt, "loss_per_token": loss_per_token}
    if stop_at_layer is not None:
        kwargs["stop_at_layer"] = stop_at_layer
    return pack_output(model(tokens, **kwargs), return_type)


CACHE_SHARE = 0.8  # of the memory free now that one cache may take: the forward pass itself needs room too


def _cache_budget(device: torch.device) -> tuple[int, str]:
    """Bytes a cache may take on ``device``, and what that figure is."""
    limit = os.environ.get("LENS4J_CACHE_LIMIT_MB")
    if limit:
        return int(float(limit) * 2**20), "the LENS4J_CACHE_LIMIT_MB limit"
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free * CACHE_SHARE), f"{CACHE_SHARE:.0%} of the free memory on {device}"
    import psutil

    free = psutil.virtual_memory().available
    try:  # a container's own limit (cgroup v2) may be far below the machine's
        cap = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if cap != "max":
            free = min(free, int(cap) - int(Path("/sys/fs/cgroup/memory.current").read_text()))
    except (OSError, ValueError):
        pass
    return int(free * CACHE_SHARE), f"{CACHE_SHARE:.0%} of the memory available now"


def _size(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def _guard_cache_size(model: Any, tokens: torch.Tensor, names: list[str] | None, kwargs: dict[str, Any]) -> None:
    """Refuse a run_with_cache whose cache will not fit, before it runs (a worker that grows until the
    kernel kills it loses every handle). A cheap upper bound clears most runs; past it, one prompt is
    cached for real and the batch is that times the number of prompts (every row has the padded length)."""
    batch, n_pos = tokens.shape
    cfg = model.cfg
    device = kwargs.get("device") or next(model.parameters()).device
    device = torch.device(device) if isinstance(device, str) else device
    budget, what = _cache_budget(device)
    n_hooks = len(names) if names is not None else len(getattr(model, "hook_dict", {})) or 1
    widest = max(cfg.d_model, cfg.d_mlp or 0, cfg.n_heads * cfg.d_head, cfg.n_heads * n_pos, cfg.d_vocab)
    itemsize = next(model.parameters()).element_size()
    if batch * n_pos * n_hooks * widest * itemsize <= budget or batch < 2:
        return
    probe_args = {**kwargs, "return_type": None}
    _, probe = model.run_with_cache(tokens[:1], **probe_args)
    per_prompt = sum(t.numel() * t.element_size() for t in probe.values())
    entries = len(probe)
    del probe
    estimate = per_prompt * batch
    if estimate > budget:
        raise LensError(
            f"this run_with_cache would cache about {_size(estimate)} ({batch} prompts of {n_pos} tokens x "
            f"{_size(per_prompt)} each, {entries} hook points), more than {_size(budget)} ({what}), so it was not run. "
            "Cache only what you need with Names.only(...) (e.g. Names.only(\"pattern\", \"resid_pre\")), or run the "
            "prompts in chunks with org.lens4j.batch.PromptBatch, which keeps each chunk's measures and not its cache.",
            "out_of_memory",
        )


@op("model.run_with_cache")
def run_with_cache(
    s: Session, model: Any, input: Any, names: list[str] | None = None, return_type: str = "logits",
    prepend_bos: bool | None = None, padding_side: str | None = None, remove_batch_dim: bool = False,
    stop_at_layer: int | None = None, device: str | None = None,
) -> dict[str, Any]:
    rt = check_return_type(return_type)
    check_stop_at_layer(model, stop_at_layer)
    if names is not None:
        check_hook_names(model, names)
    tokens = tokens_of(model, input, prepend_bos, padding_side)
    require(not remove_batch_dim or tokens.shape[0] == 1, f"remove_batch_dim needs a batch of 1, got {tokens.shape[0]}")
    kwargs: dict[str, Any] = {"return_type": rt, "remove_batch_dim": remove_batch_dim}
    if names is not None:
        names_set = set(names)
        kwargs["names_filter"] = lambda n: n in names_set
    if stop_at_layer is not None:
        kwargs["stop_at_layer"] = stop_at_layer
    if device is not None:
        kwargs["device"] = resolve_device(device)
    _guard_cache_size(model, tokens, names, kwargs)
    output, cache = model.run_with_cache(tokens, **kwargs)
    result = pack_output(output, return_type)
    result["cache"] = {"$h": s.handles.put(cache), "type": "cache", "keys": list(cache.keys())}
    return result


@op("model.make_tiny")
def make_tiny(s: Session, out_dir: str, n_layers: int = 2, d_model: int = 64, n_heads: int = 4, n_ctx: int = 128, seed: int = 0) -> str:
    """Save a random GPT-2-architecture model with a locally trained tokenizer to ``out_dir``
    (reused when already there) and return its path: a model to load with no network."""
    from ..toy.tiny import make_tiny_model

    require(n_layers >= 1 and d_model >= 1 and n_heads >= 1 and d_model % n_heads == 0,
            f"need n_layers >= 1 and d_model divisible by n_heads; got {n_layers}, {d_model}, {n_heads}")
    return str(make_tiny_model(out_dir, n_layers=n_layers, d_model=d_model, n_heads=n_heads, n_ctx=n_ctx, seed=seed))
