"""Reference values for the Java hook tests (org.lens4j.hook), computed with hooks written
by hand against TransformerLens, in a separate process that never touches lens4j's bridge:

    python reference_hooks.py OUT_DIR [MODEL_DIR]

Without MODEL_DIR it builds the project's tiny test model (2 layers, d_model 64, 4 heads:
what the Java tests load; ``make_tiny_model`` is deterministic) in OUT_DIR/model, so that
it can run while the Java side is still starting its worker. It writes OUT_DIR/index.json ({name: shape}) and, per name, NAME.f32: raw little-endian
float32 in C order. Names starting with ``in/`` are inputs the Java side must use (random
vectors, token ids); the others are expected outputs (logits, scores, gradients, tokens).
The seeds' hooks (000, 001, 004) are written as the seeds write them.
"""

from __future__ import annotations

import json
import os
import sys
from functools import partial
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402
from transformer_lens.model_bridge import TransformerBridge  # noqa: E402
from transformer_lens.utilities import get_act_name  # noqa: E402

PROMPTS = ["When John and Mary went to the shops, John gave the bag to",
           "When Tom and James went to the park, James gave the ball to"]
CLEAN = "When John and Mary went to the shops, John gave the bag to"
CORRUPT = "When John and Mary went to the shops, Mary gave the bag to"
GEN_PROMPT = "When John and Mary went"
GRAD_NAMES = ["blocks.0.hook_resid_pre", "blocks.1.attn.hook_z", "blocks.1.attn.hook_pattern", "blocks.1.hook_mlp_out"]
GOOD, BAD = [5, 7], [9, 11]


class Out:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.index: dict[str, list[int]] = {}

    def save(self, name: str, t: torch.Tensor) -> None:
        t = t.detach().float().contiguous()
        self.index[name] = list(t.shape)
        path = self.folder / (name.replace("/", "__") + ".f32")
        t.numpy().astype("<f4").tofile(path)

    def close(self) -> None:
        (self.folder / "index.json").write_text(json.dumps(self.index))


def actions(model, out: Out, tokens: torch.Tensor) -> None:
    """One logits file per declarative action / selector case (Java runs the same with Hook)."""
    d, n_heads, d_head = model.cfg.d_model, model.cfg.n_heads, model.cfg.d_head
    g = torch.Generator().manual_seed(1)
    vec = torch.randn(d, generator=g)
    src_full = torch.randn(*tokens.shape, n_heads, d_head, generator=g)
    out.save("in/vec", vec)
    out.save("in/src_full", src_full)
    _, clean = model.run_with_cache(tokens.flip(0))  # a batch-aligned "clean" run: the prompts swapped

    def put(index, value):
        def hook(x, hook):
            x[index] = value(x) if callable(value) else value
            return x
        return hook

    def composed_scale(x, hook):
        x[:, -2:, :] = x[:, -2:, :] * 0.5
        return x

    def composed_add(x, hook):
        x += 2.0 * vec  # in place: hook_resid_mid is ln2's input hook
        return x

    def scale_scores(x, hook):
        heads, queries = torch.tensor([1, 3]).view(-1, 1), torch.tensor([1, 5]).view(1, -1)
        x[:, heads, queries] = x[:, heads, queries] * 3.0
        return x

    def per_prompt(x, hook):
        x[0, [1, 3], :] = 0
        x[1, [2], :] = 0
        return x

    def per_prompt_head(x, hook):
        x[0, 1, 1, :] *= 3.0
        x[1, -1, 1, :] *= 3.0
        return x

    def mean_pos(x, hook):
        x[:, [0, 2], :] = x.mean(0, keepdim=True).expand_as(x)[:, [0, 2], :]
        return x

    all_ = slice(None)
    perm = torch.randperm(2, generator=torch.Generator().manual_seed(2))
    cases = {
        "zero_head_pos": [("blocks.1.attn.hook_z", put((all_, -1, 1), 0.0))],
        "zero_range_batch": [("blocks.0.hook_resid_pre", put((1, slice(1, 4)), 0.0))],
        "mean_dim0_pos_list": [("blocks.0.hook_resid_mid", mean_pos)],
        "mean_source": [("blocks.1.hook_resid_pre", put((all_, -1), vec))],
        "mean_from_cache": [("blocks.1.hook_mlp_out", lambda x, hook: clean["blocks.1.hook_mlp_out"].mean(0, keepdim=True).expand_as(x).clone())],
        "patch_heads_list": [("blocks.0.attn.hook_v", put((all_, -2, [0, 2]), clean["blocks.0.attn.hook_v"][:, -2, [0, 2]]))],
        "patch_other_name": [("blocks.1.hook_resid_pre", put((all_, slice(2, None)), clean["blocks.0.hook_resid_pre"][:, 2:]))],
        "resample_perm": [("blocks.0.mlp.hook_post", lambda x, hook: clean["blocks.0.mlp.hook_post"][[0, 0]].clone())],
        "resample_seed": [("blocks.0.mlp.hook_post", lambda x, hook: clean["blocks.0.mlp.hook_post"][perm].clone())],
        "add_vector": [("blocks.0.hook_resid_post", put(0, lambda x: x[0] + 2.0 * vec))],
        "add_java_array": [("blocks.0.hook_resid_post", lambda x, hook: x + vec)],
        "scale_pattern_query": [("blocks.1.attn.hook_pattern", put((all_, 3, -1), lambda x: x[:, 3, -1] * 0.5))],
        "scale_attn_scores": [("blocks.0.attn.hook_attn_scores", scale_scores)],
        "set_full": [("blocks.1.attn.hook_q", put((slice(0, 1), all_, slice(1, 3)), src_full[0:1, :, 1:3]))],
        "per_prompt": [("blocks.0.hook_resid_pre", per_prompt)],
        "per_prompt_head": [("blocks.0.attn.hook_z", per_prompt_head)],
        "composed": [("blocks.1.hook_resid_mid", composed_scale), ("blocks.1.hook_resid_mid", composed_add)],
        "glob_heads": [(lambda n: n.endswith("attn.hook_z"), put((all_, all_, 0), 0.0))],
        "filter_mlp_out": [(lambda n: n.endswith("hook_mlp_out"), lambda x, hook: x * 0.25)],
        "mlp_out_times_2": [("blocks.1.hook_mlp_out", lambda x, hook: x * 2.0)],
    }
    for name, hooks in cases.items():
        out.save(f"case/{name}", model.run_with_hooks(tokens, fwd_hooks=hooks))
    out.save("plain", model(tokens))
    _, cache = model.run_with_cache(tokens)
    for n in ("blocks.0.hook_resid_pre", "blocks.1.attn.hook_z"):
        out.save(f"act/{n}", cache[n])

    # stop_at_layer: the residual stream before block 1, with a hook in block 0
    out.save("stop_at_layer", model.run_with_hooks(tokens, stop_at_layer=1, fwd_hooks=[("blocks.0.hook_resid_mid", lambda x, hook: x.mul_(2.0))]))

    # seed 001, "Backup Name Mover Heads": ablate a head with an added hook, then cache
    layer, head = 1, 2

    def ablate_top_head_hook(z, hook):
        z[:, -1, head, :] = 0
        return z

    model.blocks[layer].attn.hook_z.add_hook(ablate_top_head_hook)
    logits, cache = model.run_with_cache(tokens)
    model.reset_hooks(including_permanent=True)
    out.save("ablated/logits", logits)
    out.save("ablated/blocks.1.hook_attn_out", cache["blocks.1.hook_attn_out"])


def seed_000(model, out: Out) -> None:
    clean_tokens, corrupted_tokens = model.to_tokens(CLEAN), model.to_tokens(CORRUPT)
    _, clean_cache = model.run_with_cache(clean_tokens)

    def activation_patching_hook(resid_pre, hook, position, clean_cache):
        clean_activation = clean_cache[hook.name]
        resid_pre[:, position, :] = clean_activation[:, position, :]
        return resid_pre

    rows = []
    for layer in range(model.cfg.n_layers):
        per_pos = []
        for position in range(clean_tokens.shape[1]):
            temp_hook = partial(activation_patching_hook, position=position, clean_cache=clean_cache)
            per_pos.append(model.run_with_hooks(corrupted_tokens, fwd_hooks=[(get_act_name("resid_pre", layer), temp_hook)]))
        rows.append(torch.stack(per_pos))
    out.save("s000/patched_logits", torch.stack(rows))  # [layer, position, 1, pos, vocab]


def seed_004(model, out: Out) -> None:
    corrupted_tokens = model.to_tokens(CORRUPT)
    _, cache = model.run_with_cache(model.to_tokens(CLEAN))

    def patch_head_vector(corrupted_head_vector, hook, head_index, clean_cache):
        corrupted_head_vector[:, -1, head_index, :] = clean_cache[hook.name][:, -1, head_index, :]
        return corrupted_head_vector

    def zero_ablation_patch_head_vector(corrupted_head_vector, hook, head_index, clean_cache):
        corrupted_head_vector[:, -1, head_index, :] = 0
        return corrupted_head_vector

    def mean_ablation_patch_head_vector(corrupted_head_vector, hook, head_index, clean_cache):
        corrupted_head_vector[:, -1, head_index, :] = clean_cache[hook.name][:, -1, head_index, :].mean(dim=1, keepdim=True)
        return corrupted_head_vector

    fns = [patch_head_vector, zero_ablation_patch_head_vector, mean_ablation_patch_head_vector]
    rows = []
    for layer in range(model.cfg.n_layers):
        for head_index in range(model.cfg.n_heads):
            for fn in fns:
                hook_fn = partial(fn, head_index=head_index, clean_cache=cache)
                rows.append(model.run_with_hooks(corrupted_tokens, fwd_hooks=[(get_act_name("z", layer, "attn"), hook_fn)], return_type="logits"))
    out.save("s004/logits", torch.stack(rows).view(model.cfg.n_layers, model.cfg.n_heads, len(fns), *rows[0].shape))


def seed_001_scores(model, out: Out) -> None:
    seq_len, batch_size = 12, 2
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    original = torch.randint(5, model.cfg.d_vocab, (batch_size, seq_len), generator=torch.Generator().manual_seed(0))
    repeated = torch.cat([original, original], dim=1)
    out.save("in/repeated_tokens", repeated)
    scores = {k: torch.zeros(n_layers, n_heads) for k in ("prev", "dup", "induction")}

    def score_hook(key, offset):
        def hook_fn(pattern, hook):
            layer = hook.layer()
            diagonal = pattern.diagonal(offset=offset, dim1=-1, dim2=-2)
            scores[key][layer] = diagonal.mean(dim=(0, 2))  # einops "batch head_index diagonal -> head_index", "mean"
        return hook_fn

    pattern_filter = lambda act_name: act_name.endswith("hook_pattern")
    loss = model.run_with_hooks(repeated, return_type="loss", fwd_hooks=[
        (pattern_filter, score_hook("prev", 1)), (pattern_filter, score_hook("dup", seq_len)),
        (pattern_filter, score_hook("induction", seq_len - 1))])
    out.save("s001/loss", loss.reshape(1))
    for k, v in scores.items():
        out.save(f"s001/{k}", v)


def generation(model, out: Out) -> None:
    name = "blocks.1.hook_resid_pre"
    steer = torch.randn(model.cfg.d_model, generator=torch.Generator().manual_seed(3)) * 4.0
    out.save("in/steer", steer)
    steering = [(name, lambda x, hook: x + 2.0 * steer)]
    with model.hooks(fwd_hooks=steering):
        greedy = model.generate(GEN_PROMPT, max_new_tokens=8, do_sample=False, stop_at_eos=False, return_type="tokens", verbose=False)
    out.save("gen/steered", greedy)
    out.save("gen/plain", model.generate(GEN_PROMPT, max_new_tokens=8, do_sample=False, stop_at_eos=False, return_type="tokens", verbose=False))
    torch.manual_seed(11)
    with model.hooks(fwd_hooks=steering):
        sampled = model.generate([GEN_PROMPT, GEN_PROMPT], max_new_tokens=6, do_sample=True, top_k=20, temperature=0.8,
                                 stop_at_eos=False, return_type="tokens", verbose=False)
    out.save("gen/sampled_top_k", sampled)
    torch.manual_seed(5)
    nucleus = model.generate(GEN_PROMPT, max_new_tokens=6, do_sample=True, top_p=0.9, temperature=1.2, stop_at_eos=False,
                             return_type="tokens", verbose=False)
    out.save("gen/sampled_top_p", nucleus)


def gradients(model, out: Out, tokens: torch.Tensor) -> None:
    with torch.set_grad_enabled(True):
        loss, cache = model.run_with_cache(tokens, names_filter=GRAD_NAMES, incl_bwd=True, return_type="loss")
    out.save("grad/loss", loss.reshape(1))
    for n in GRAD_NAMES:
        out.save(f"grad/loss/{n}", cache[n + "_grad"])
    model.zero_grad(set_to_none=True)

    kept = {}

    def keep(x, hook):
        x = x.clone()
        x.retain_grad()
        kept[hook.name] = x
        return x

    with torch.set_grad_enabled(True):
        logits = model.run_with_hooks(tokens, fwd_hooks=[(n, keep) for n in GRAD_NAMES])
        metric = (logits[[0, 1], -1, GOOD] - logits[[0, 1], -1, BAD]).mean()
        metric.backward()
    model.zero_grad(set_to_none=True)
    out.save("grad/logit_diff", metric.reshape(1))
    for n in GRAD_NAMES:
        out.save(f"grad/logit_diff/{n}", kept[model.hook_dict[n].name].grad)

    # a backward hook that zeroes the gradient at positions 0..2 of blocks.1.hook_resid_pre
    name = "blocks.1.hook_resid_pre"

    def zero_grad(g, hook):
        g = g.clone()
        g[:, 0:3] = 0
        return g

    with torch.set_grad_enabled(True), model.hooks(bwd_hooks=[(name, zero_grad)]):
        _, want = model.run_with_cache(tokens, names_filter=["blocks.0.hook_resid_mid", name], incl_bwd=True, return_type="loss")
    model.zero_grad(set_to_none=True)
    out.save("bwd/captured", want[name + "_grad"])
    out.save("bwd/blocks.0.hook_resid_mid_grad", want["blocks.0.hook_resid_mid_grad"])


def main() -> None:
    folder = Path(sys.argv[1])
    folder.mkdir(parents=True, exist_ok=True)
    if len(sys.argv) > 2:
        model_dir = sys.argv[2]
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from lens4j_bridge.toy.tiny import make_tiny_model

        model_dir = str(make_tiny_model(folder / "model", n_layers=2, d_model=64, n_heads=4))
    torch.set_grad_enabled(False)
    model = TransformerBridge.boot_transformers(model_dir, device="cpu", dtype=torch.float32)
    model.enable_compatibility_mode(disable_warnings=True)
    out = Out(folder)
    tokens = model.to_tokens(PROMPTS)
    actions(model, out, tokens)
    seed_000(model, out)
    seed_004(model, out)
    seed_001_scores(model, out)
    generation(model, out)
    gradients(model, out, tokens)
    out.close()


if __name__ == "__main__":
    main()
