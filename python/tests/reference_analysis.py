"""Reference numbers for the Java analysis tests, computed directly with TransformerLens.

The Java tests (src/test/java/org/lens4j/analysis) run this script with the venv's Python in
a separate process, so that the reference never goes through lens4j's bridge:

    python reference_analysis.py MODEL_DIR OUT_DIR

Each computation is the seeds' own code (copied, with HookedTransformer replaced by
TransformerBridge) or TransformerLens' own function. Small results go to OUT_DIR/ref.json;
residual stacks go to OUT_DIR/<name>.f32 (raw little-endian float32, C order) with their
shapes and labels in ref.json. The inputs are defined here once and echoed in ref.json, so
that the Java side runs exactly the same inputs.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import sys
from functools import partial
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

# -- the inputs (the Java tests read them from ref.json) ---------------------------------------

PROMPT_FORMAT = [
    "When John and Mary went to the shops,{} gave the bag to",
    "When Tom and James went to the park,{} gave the ball to",
]
NAMES = [(" Mary", " John"), (" Tom", " James")]
PROMPTS = [PROMPT_FORMAT[i].format(NAMES[i][1 - j]) for i in range(2) for j in range(2)]
ANSWERS = [[NAMES[i][j], NAMES[i][1 - j]] for i in range(2) for j in range(2)]
# Seed 001 swaps each pair of prompts; on a random model that makes the corrupted logit difference
# exactly minus the clean one, both near 0, and the normalized metric's denominator tiny. Pairing
# each prompt with the other template's keeps the seed's computation with a healthier scale.
CORRUPTED = [PROMPTS[(i + 2) % len(PROMPTS)] for i in range(len(PROMPTS))]
PROMPT = PROMPTS[0]
LENS_PROMPT = "James Potter went to school. James"  # seed 003
DETECT_TEXTS = [PROMPT, "The cat sat on the mat. The cat sat on the mat."]
QUESTIONS = ["1 2 3 4 5 1 2 3 4 5", "The cat sat on the mat. The cat sat", "one two three one two three"]  # seed 000
STEER_PAIRS = [["Love : hate", "Love : love"], ["good : bad", "good : good"], ["yes : no", "yes : yes"], ["one : two", "one : one"]]
STEER_PROMPT = "I think that the answer is"
STEER_LAYER, STEER_COEFF = 1, 3.0
SEQ_LEN, RANDOM_BATCH, RANDOM_SEED = 10, 2, 0
CATEGORIES = {"early": [[0, 1], [0, 3]], "late": [[1, 0], [1, 2]]}
NORMALIZED_ENDS = (2.0, -1.0)


def main() -> None:
    from transformer_lens.model_bridge import TransformerBridge

    model_dir, out = sys.argv[1], Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    torch.set_grad_enabled(False)
    model = TransformerBridge.boot_transformers(model_dir, device="cpu", dtype=torch.float32)
    model.enable_compatibility_mode(disable_warnings=True)
    ref: dict = {
        "inputs": {
            "prompts": PROMPTS, "answers": ANSWERS, "corrupted": CORRUPTED, "prompt": PROMPT, "lens_prompt": LENS_PROMPT,
            "detect_texts": DETECT_TEXTS, "questions": QUESTIONS, "steer_pairs": STEER_PAIRS, "steer_prompt": STEER_PROMPT,
            "steer_layer": STEER_LAYER, "steer_coeff": STEER_COEFF, "seq_len": SEQ_LEN, "random_batch": RANDOM_BATCH,
            "random_seed": RANDOM_SEED, "categories": CATEGORIES, "normalized_ends": list(NORMALIZED_ENDS),
        }
    }
    ref["metrics"] = metrics(model)
    ref["test_prompt"] = test_prompt(model)
    ref["logit_lens"] = logit_lens(model)
    ref["dla"] = dla(model, out)
    ref["heads"] = heads(model)
    ref["ablation"] = ablation(model)
    ref["steering"] = steering(model)
    (out / "ref.json").write_text(json.dumps(ref))


def answer_tokens(model) -> torch.Tensor:
    return torch.tensor([[model.to_single_token(c), model.to_single_token(i)] for c, i in ANSWERS])


def logits_to_ave_logit_diff(logits, answer_tokens, per_prompt=False):
    """Seed 001, verbatim."""
    final_logits = logits[:, -1, :]
    answer_logits = final_logits.gather(dim=-1, index=answer_tokens)
    answer_logit_diff = answer_logits[:, 0] - answer_logits[:, 1]
    if per_prompt:
        return answer_logit_diff
    return answer_logit_diff.mean()


# -- metrics -------------------------------------------------------------------------------------

def metrics(model) -> dict:
    tokens = model.to_tokens(PROMPTS, prepend_bos=True)
    corrupted = model.to_tokens(CORRUPTED, prepend_bos=True)
    logits = model(tokens)
    corrupted_logits = model(corrupted)
    at = answer_tokens(model)
    per_prompt = logits_to_ave_logit_diff(logits, at, per_prompt=True)
    mean = logits_to_ave_logit_diff(logits, at)
    last = logits[:, -1]
    mary = model.to_single_token(" Mary")
    probs = last.softmax(-1)
    ranks = (last > last[:, mary:mary + 1]).sum(-1)
    kl = torch.nn.functional.kl_div(last.log_softmax(-1), corrupted_logits[:, -1].log_softmax(-1), log_target=True,
                                    reduction="none").sum(-1)  # KL(corrupted || clean)
    # logit difference averaged over positions 5 and -1 of each prompt
    both = torch.stack([logits[:, 5], logits[:, -1]], 1).gather(-1, at[:, None, :].expand(-1, 2, -1))
    clean_v, corrupted_v = NORMALIZED_ENDS
    return {
        "logit_diff_per_prompt": per_prompt.tolist(),
        "logit_diff_mean": mean.item(),
        "logit_diff_pos5_last": (both[..., 0] - both[..., 1]).mean(-1).mean().item(),
        "logit_diff_per_prompt_position": (logits[torch.arange(4), torch.tensor([14, 13, 12, 11])].gather(-1, at)[:, 0]
                                           - logits[torch.arange(4), torch.tensor([14, 13, 12, 11])].gather(-1, at)[:, 1]).tolist(),
        "corrupted_logit_diff_mean": logits_to_ave_logit_diff(corrupted_logits, at).item(),
        "normalized": ((mean - corrupted_v) / (clean_v - corrupted_v)).item(),
        "loss": model(tokens, return_type="loss").item(),
        "kl_to_corrupted": kl.mean().item(),
        "prob_mary": probs[:, mary].mean().item(),
        "logit_mary": last[:, mary].mean().item(),
        "rank_mary": ranks.tolist(),
        "max_last_logit_prompt0": logits[0, -1].max().item(),
    }


# -- test_prompt ---------------------------------------------------------------------------------

def test_prompt(model) -> dict:
    from transformer_lens import utilities

    out = {}
    for key, answer, top_k in (("single", " Mary", 5), ("multi_token", " Mary gave", 3), ("alternatives", [" Mary", " John"], 3)):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            utilities.test_prompt(PROMPT, answer, model, prepend_bos=True, top_k=top_k)
        out[key] = re.sub(r"\[/?b\]", "", buf.getvalue())
    tokens = model.to_tokens(PROMPT + " Mary")
    logits = model(tokens)[0, -2]
    mary = model.to_single_token(" Mary")
    out["mary"] = {"logit": logits[mary].item(), "prob": logits.softmax(-1)[mary].item(),
                   "rank": int((logits > logits[mary]).sum().item())}
    return out


# -- logit lens ----------------------------------------------------------------------------------

def logit_lens_seed003(model, input_prompt):
    """Seed 003's solution, verbatim but for the model name."""
    tokens = model.to_tokens(input_prompt)
    final_logits, cache = model.run_with_cache(tokens, remove_batch_dim=True)
    num_layers = model.cfg.n_layers
    residual_stream_caches = [cache[f"blocks.{i}.ln2.hook_normalized"] for i in range(num_layers)]
    residual_stream_caches = torch.stack(residual_stream_caches, dim=1)
    unembedded = model.unembed(residual_stream_caches)
    unembedded = unembedded.log_softmax(dim=-1)
    top = torch.argmax(unembedded, dim=-1)
    final = final_logits[0][:, None, :].expand(-1, num_layers, -1)  # einops.repeat
    final_probs = final.softmax(dim=-1)
    kl = torch.nn.functional.kl_div(unembedded, final_probs, reduction="none").sum(-1)
    return tokens, top, kl, unembedded


def logit_lens(model) -> dict:
    _, top, kl, logp = logit_lens_seed003(model, LENS_PROMPT)
    top5 = logp.topk(5, dim=-1)
    out = {"ln2": {"top_ids": top.tolist(), "kl": kl.tolist(), "top5_probs": top5.values.exp().tolist(),
                   "top5_ids": top5.indices.tolist()}}
    # seed 001: accumulated_resid through the final LN's cached scale, then the unembed
    tokens = model.to_tokens(PROMPT)
    final_logits, cache = model.run_with_cache(tokens)
    stack, labels = cache.accumulated_resid(layer=-1, incl_mid=True, return_labels=True)
    scaled = cache.apply_ln_to_stack(stack, layer=-1)
    logp = model.unembed(scaled).log_softmax(-1)  # [rows, batch, pos, vocab]
    final_probs = final_logits.softmax(-1)
    mary = model.to_single_token(" Mary")
    row_logits = model.unembed(scaled)
    out["accumulated"] = {
        "labels": labels,
        "kl": torch.nn.functional.kl_div(logp, final_probs[None].expand_as(logp), reduction="none").sum(-1)[:, 0].tolist(),
        "top_ids": logp.argmax(-1)[:, 0].tolist(),
        "target_probs": logp[..., mary].exp()[:, 0].tolist(),
        "target_ranks": (row_logits > row_logits[..., mary:mary + 1]).sum(-1)[:, 0].tolist(),
    }
    # resid_post: ln_final(resid_post L) unembedded, positions -1 and 3
    posts = [model.unembed(model.ln_final(cache["resid_post", l]))[0, [-1, 3]] for l in range(model.cfg.n_layers)]
    logp = torch.stack(posts).log_softmax(-1)
    fp = final_logits[0, [-1, 3]].softmax(-1)
    out["resid_post"] = {"kl": torch.nn.functional.kl_div(logp, fp[None].expand_as(logp), reduction="none").sum(-1).tolist(),
                         "top_ids": logp.argmax(-1).tolist()}
    return out


# -- direct logit attribution --------------------------------------------------------------------

def save(out: Path, name: str, t: torch.Tensor) -> list[int]:
    t.contiguous().numpy().astype("<f4").tofile(out / f"{name}.f32")
    return list(t.shape)


def dla(model, out: Path) -> dict:
    tokens = model.to_tokens(PROMPTS, prepend_bos=True)
    original_logits, cache = model.run_with_cache(tokens)
    at = answer_tokens(model)
    answer_residual_directions = model.tokens_to_residual_directions(at)
    correct_residual_directions, incorrect_residual_directions = answer_residual_directions.unbind(dim=1)
    logit_diff_directions = correct_residual_directions - incorrect_residual_directions

    def residual_stack_to_logit_diff(residual_stack, cache):
        """Seed 001, verbatim (fancy_einsum replaced by torch.einsum)."""
        scaled_residual_stack = cache.apply_ln_to_stack(residual_stack, layer=-1, pos_slice=-1)
        return torch.einsum("...bd,bd->...", scaled_residual_stack, logit_diff_directions) / len(PROMPTS)

    final_residual_stream = cache["resid_post", -1]
    final_token_residual_stream = final_residual_stream[:, -1, :]
    scaled_final = cache.apply_ln_to_stack(final_token_residual_stream, layer=-1, pos_slice=-1)
    average_logit_diff = torch.einsum("bd,bd->", scaled_final, logit_diff_directions) / len(PROMPTS)

    result: dict = {"average_logit_diff": average_logit_diff.item(),
                    "original_average_logit_diff": logits_to_ave_logit_diff(original_logits, at).item()}
    accumulated_residual, labels = cache.accumulated_resid(layer=-1, incl_mid=True, pos_slice=-1, return_labels=True)
    result["accumulated"] = {"labels": labels, "values": residual_stack_to_logit_diff(accumulated_residual, cache).tolist()}
    per_layer_residual, labels = cache.decompose_resid(layer=-1, pos_slice=-1, return_labels=True)
    result["layer"] = {"labels": labels, "values": residual_stack_to_logit_diff(per_layer_residual, cache).tolist()}
    per_head_residual, labels = cache.stack_head_results(layer=-1, pos_slice=-1, return_labels=True)
    per_head = residual_stack_to_logit_diff(per_head_residual, cache).reshape(model.cfg.n_layers, model.cfg.n_heads)
    result["head"] = {"labels": labels, "grid": per_head.tolist()}
    comp, labels = cache.get_full_resid_decomposition(layer=-1, expand_neurons=False, pos_slice=-1, return_labels=True)
    result["component"] = {"labels": labels, "values": residual_stack_to_logit_diff(comp, cache).tolist()}
    scaled = cache.apply_ln_to_stack(per_layer_residual, layer=-1, pos_slice=-1)
    result["layer"]["per_prompt"] = torch.einsum("cbd,bd->cb", scaled, logit_diff_directions).tolist()

    # the cache methods themselves, as stacks
    stacks = {}
    s, l = cache.accumulated_resid(layer=-1, incl_mid=True, apply_ln=True, pos_slice=-1, return_labels=True)
    stacks["accumulated_resid"] = (s, l)
    s, l = cache.decompose_resid(layer=1, mode="attn", pos_slice=[3, 5], return_labels=True)
    stacks["decompose_resid"] = (s, l)
    s, l = cache.stack_head_results(layer=-1, incl_remainder=True, pos_slice=-1, apply_ln=True, return_labels=True)
    stacks["stack_head_results"] = (s, l)
    s, l = cache.get_full_resid_decomposition(layer=-1, expand_neurons=True, pos_slice=-1, return_labels=True)
    stacks["full_resid_decomposition"] = (s, l)
    stacks["apply_ln_to_stack"] = (cache.apply_ln_to_stack(per_layer_residual, layer=-1, pos_slice=-1), None)
    stacks["logit_attrs"] = (cache.logit_attrs(per_layer_residual, tokens=at[:, 0], incorrect_tokens=at[:, 1], pos_slice=-1), None)
    result["stacks"] = {name: {"shape": save(out, name, s), "labels": l} for name, (s, l) in stacks.items()}
    return result


# -- head detector -------------------------------------------------------------------------------

def heads(model) -> dict:
    from transformer_lens.head_detector import detect_head

    out = {}
    out["previous"] = detect_head(model, DETECT_TEXTS, "previous_token_head").tolist()
    out["duplicate"] = detect_head(model, DETECT_TEXTS, "duplicate_token_head").tolist()
    out["induction"] = detect_head(model, DETECT_TEXTS[1], "induction_head").tolist()
    out["previous_excl"] = detect_head(model, DETECT_TEXTS[1], "previous_token_head", exclude_bos=True,
                                       exclude_current_token=True).tolist()
    out["duplicate_abs"] = detect_head(model, DETECT_TEXTS[1], "duplicate_token_head", error_measure="abs").tolist()
    out["previous_heads"] = detect_head(model, DETECT_TEXTS[1], "previous_token_head", heads=[(0, 1), (1, 3)]).tolist()
    n = len(model.to_str_tokens(DETECT_TEXTS[1]))
    custom = torch.zeros(n, n)
    custom[:, 0] = 1  # attend to BOS
    out["custom"] = detect_head(model, DETECT_TEXTS[1], custom).tolist()
    out["custom_n"] = n

    # seeds 001/004: repeated random tokens (seed 001 has no BOS)
    torch.manual_seed(RANDOM_SEED)
    original_tokens = torch.randint(100, min(20000, model.cfg.d_vocab), size=(RANDOM_BATCH, SEQ_LEN))
    repeated_tokens = torch.cat([original_tokens, original_tokens], dim=1)
    out["repeated_tokens"] = repeated_tokens.tolist()
    seq_len = SEQ_LEN
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    prev_token_scores = torch.zeros((n_layers, n_heads))
    duplicate_token_scores = torch.zeros((n_layers, n_heads))
    induction_scores = torch.zeros((n_layers, n_heads))

    def prev_token_hook(pattern, hook):
        prev_token_scores[hook.layer()] = pattern.diagonal(offset=1, dim1=-1, dim2=-2).mean(dim=(0, 2))

    def duplicate_token_hook(pattern, hook):
        duplicate_token_scores[hook.layer()] = pattern.diagonal(offset=seq_len, dim1=-1, dim2=-2).mean(dim=(0, 2))

    def induction_hook(pattern, hook):
        induction_scores[hook.layer()] = pattern.diagonal(offset=seq_len - 1, dim1=-1, dim2=-2).mean(dim=(0, 2))

    pattern_filter = lambda act_name: act_name.endswith("hook_pattern")  # noqa: E731
    model.run_with_hooks(repeated_tokens, return_type="loss",
                         fwd_hooks=[(pattern_filter, prev_token_hook), (pattern_filter, duplicate_token_hook),
                                    (pattern_filter, induction_hook)])
    out["repeated_scores"] = {"previous": prev_token_scores.tolist(), "duplicate": duplicate_token_scores.tolist(),
                              "induction": induction_scores.tolist()}

    # seed 000: per-question induction scores, one run per question of the padded batch
    question_embeds = model.to_tokens(QUESTIONS)
    scores, best = [], []
    for question_token in question_embeds:
        length = len(question_token)
        store = np.zeros((n_layers, n_heads))

        def induction_score_hook(activation_pattern, hook):
            stripe = activation_pattern.diagonal(dim1=-2, dim2=-1, offset=1 - length // 2)
            store[hook.layer(), :] = stripe.mean(dim=(0, 2)).numpy()

        model.run_with_hooks(question_token[None], return_type=None,
                             fwd_hooks=[(lambda name: name.endswith("pattern"), induction_score_hook)])
        scores.append(store.tolist())
        best.append(int(np.argmax(store)))
    out["question_scores"] = {"scores": scores, "argmax": best, "length": int(question_embeds.shape[1])}
    return out


# -- ablation ------------------------------------------------------------------------------------

def ablation(model) -> dict:
    """Seed 004's loops, verbatim but for the model and the method list."""
    from transformer_lens.utilities import get_act_name

    tokens = model.to_tokens(PROMPTS, prepend_bos=True)
    original_logits, cache = model.run_with_cache(tokens)
    at = answer_tokens(model)
    original_average_logit_diff = logits_to_ave_logit_diff(original_logits, at)
    corrupted_tokens = model.to_tokens(CORRUPTED, prepend_bos=True)
    corrupted_logits = model(corrupted_tokens)
    corrupted_average_logit_diff = logits_to_ave_logit_diff(corrupted_logits, at)

    def normalize_patched_logit_diff(patched_logit_diff):
        return (patched_logit_diff - corrupted_average_logit_diff) / (original_average_logit_diff - corrupted_average_logit_diff)

    def patch_head_vector(corrupted_head_vector, hook, head_index, clean_cache):
        corrupted_head_vector[:, -1, head_index, :] = clean_cache[hook.name][:, -1, head_index, :]
        return corrupted_head_vector

    def zero_ablation_patch_head_vector(corrupted_head_vector, hook, head_index, clean_cache):
        corrupted_head_vector[:, -1, head_index, :] = 0
        return corrupted_head_vector

    def mean_ablation_patch_head_vector(corrupted_head_vector, hook, head_index, clean_cache):
        corrupted_head_vector[:, -1, head_index, :] = clean_cache[hook.name][:, -1, head_index, :].mean(dim=1, keepdim=True)
        return corrupted_head_vector

    def batch_mean_patch_head_vector(corrupted_head_vector, hook, head_index, clean_cache):
        # mean ablation as usually meant: the clean batch's mean z at the position
        corrupted_head_vector[:, -1, head_index, :] = clean_cache[hook.name][:, -1, head_index, :].mean(dim=0, keepdim=True)
        return corrupted_head_vector

    functions = {"resample": patch_head_vector, "zero": zero_ablation_patch_head_vector,
                 "mean_d_head": mean_ablation_patch_head_vector, "mean_batch": batch_mean_patch_head_vector}
    grids = {k: torch.zeros(model.cfg.n_layers, model.cfg.n_heads) for k in functions}
    for layer in range(model.cfg.n_layers):
        for head_index in range(model.cfg.n_heads):
            for key, function in functions.items():
                hook_fn = partial(function, head_index=head_index, clean_cache=cache)
                patched_logits = model.run_with_hooks(corrupted_tokens, fwd_hooks=[(get_act_name("z", layer, "attn"), hook_fn)],
                                                      return_type="logits")
                grids[key][layer, head_index] = normalize_patched_logit_diff(logits_to_ave_logit_diff(patched_logits, at))

    def count_procentage_difference(a, b):
        c = torch.tensor([abs(bi / ai) for bi, ai in zip(b, a) if ai > 0.05])
        return int((c.sum() / len(a) * 100).item())

    categories = {}
    for name, entries in CATEGORIES.items():
        r = torch.tensor([grids["resample"][tuple(e)].item() for e in entries])
        z = torch.tensor([grids["zero"][tuple(e)].item() for e in entries])
        m = torch.tensor([grids["mean_batch"][tuple(e)].item() for e in entries])
        categories[name] = {"zero": count_procentage_difference(r, z), "mean": count_procentage_difference(r, m)}
    return {"grids": {k: v.tolist() for k, v in grids.items()}, "clean": original_average_logit_diff.item(),
            "corrupted": corrupted_average_logit_diff.item(), "categories": categories}


# -- steering and PCA ----------------------------------------------------------------------------

def steering(model) -> dict:
    """Seed 003's dataset (one run per truncated prompt), the mean difference, PCA and activation addition."""

    def prompt_to_residual_stream_activations(prompt, demarcation_token, site):
        tokens = model.to_tokens(prompt)[0].tolist()
        demarcation_position = tokens.index(demarcation_token)
        tokens = tokens[:demarcation_position + 2]
        tokens = torch.tensor(tokens).unsqueeze(0)
        _, cache = model.run_with_cache(tokens, remove_batch_dim=True)
        name = "blocks.{}.ln2.hook_normalized" if site == "ln2" else "blocks.{}.hook_resid_pre"
        residual_stream_caches = torch.stack([cache[name.format(i)] for i in range(model.cfg.n_layers)], dim=1)
        return residual_stream_caches[-1]

    def crate_activation_dataset(prompt_pairs, demarkation_string, site):
        demarkation_token = model.tokenizer.encode(demarkation_string)[-1]
        a = torch.stack([prompt_to_residual_stream_activations(p, demarkation_token, site) for p, _ in prompt_pairs])
        b = torch.stack([prompt_to_residual_stream_activations(q, demarkation_token, site) for _, q in prompt_pairs])
        return a, b

    a, b = crate_activation_dataset(STEER_PAIRS, " :", "ln2")
    out: dict = {"a": a.tolist(), "b": b.tolist(), "vector": (a - b).mean(0).tolist()}
    # PCA in float64 with numpy (sklearn's PCA = SVD of the centred data), signs fixed as lens4j fixes them
    pca = []
    for layer in range(model.cfg.n_layers):
        x = torch.cat([a[:, layer], b[:, layer]]).double().numpy()
        mean = x.mean(0)
        _, sv, vh = np.linalg.svd(x - mean, full_matrices=False)
        c = vh[:2]
        c = c * np.sign(c[np.arange(2), np.abs(c).argmax(1)])[:, None]
        p = (x - mean) @ c.T
        pca.append({"components": c.tolist(), "proj_a": p[:len(a)].tolist(), "proj_b": p[len(a):].tolist(),
                    "ratio": ((sv ** 2)[:2] / (sv ** 2).sum()).tolist(), "mean": mean.tolist()})
    out["pca"] = pca
    # activation addition: the resid_pre mean difference at one layer, added with a coefficient
    ra, rb = crate_activation_dataset(STEER_PAIRS, " :", "resid_pre")
    vec = (ra - rb).mean(0)[STEER_LAYER]

    def add_vector(act, hook):
        return act + STEER_COEFF * vec

    steered = model.run_with_hooks(model.to_tokens(STEER_PROMPT), fwd_hooks=[(f"blocks.{STEER_LAYER}.hook_resid_pre", add_vector)])
    out["resid_vector"] = vec.tolist()
    out["steered_last_logits"] = steered[0, -1].tolist()
    out["steered_logits_sum"] = steered.sum().item()
    return out


if __name__ == "__main__":
    main()
