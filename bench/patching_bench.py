"""Patching benchmark: lens4j's batched sweeps against TransformerLens' patching loops, in one run.

Not a test. On a random 12-layer, d_model 768, 12-head GPT-2-architecture model (the
project's make_tiny_model), batch 8 x 16 tokens, CPU:

* get_act_patch_resid_pre and get_act_patch_attn_head_out_all_pos (TransformerLens 4.3,
  one forward per cell) against the ``patching.sweep`` op;
* path patching to the final residual stream, seed 002's plain loop (two forwards per sender
  head, hooks on every hook_z) against the ``patching.path_patch`` op;
* attribution patching of the head outputs (``patching.attribution``) against the same
  estimate written directly with TransformerLens hooks, and its values against the exact sweep.

Both sides include their clean / corrupted runs. Wall and CPU (process) seconds are recorded
with the load average, since other jobs may share the machine; the ratios compare the two
sides measured back to back.

    python bench/patching_bench.py [--out bench/out/patching.json] [--with-batched] [--arch gpt2|llama|gemma2]

``--arch`` picks the model's family, all random-init, 12 layers, d_model 768: gpt2 (the
default; GPT-2 small's shape, vocab 512 from the toy tokenizer unless --vocab), llama (rotary,
12 heads with 3 key/value heads (GQA 4:1), SwiGLU d_mlp 2048) and gemma2 (8 heads with 2
key/value heads of 96, attention and final logit soft-caps, a sliding window of 8 on
alternate layers). They are saved as Hugging Face directories and loaded as lens4j loads them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402
from transformer_lens import patching as tl_patching  # noqa: E402
from transformer_lens.model_bridge import TransformerBridge  # noqa: E402

from lens4j_bridge.ops.patching.attribution import attribution  # noqa: E402
from lens4j_bridge.ops.patching.path_patching import path_patch  # noqa: E402
from lens4j_bridge.ops.patching.sweeps import sweep  # noqa: E402
from lens4j_bridge.ops.metrics import metric_from_spec  # noqa: E402
from lens4j_bridge.session import Session  # noqa: E402
from lens4j_bridge.toy.tiny import make_tiny_model  # noqa: E402


def make_family_model(arch: str, out_dir: str, vocab: int) -> Path:
    """A random-init 12-layer, d_model 768 model of the family, saved with the toy tokenizer; reused if there."""
    import transformers as t

    from lens4j_bridge.toy.tiny import build_tokenizer

    out = Path(out_dir)
    if (out / "config.json").is_file():
        return out
    tok = build_tokenizer(512)
    common = dict(vocab_size=max(vocab, len(tok)), bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                  hidden_size=768, num_hidden_layers=12, max_position_embeddings=128)
    if arch == "llama":
        cfg = t.LlamaConfig(num_attention_heads=12, num_key_value_heads=3, intermediate_size=2048, **common)
    elif arch == "gemma2":
        cfg = t.Gemma2Config(num_attention_heads=8, num_key_value_heads=2, head_dim=96, intermediate_size=2048,
                             sliding_window=8, final_logit_softcapping=30.0, attn_logit_softcapping=50.0,
                             query_pre_attn_scalar=96, **common)
    else:
        raise ValueError(arch)
    torch.manual_seed(0)
    t.AutoModelForCausalLM.from_config(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return out


def timed(fn):
    load = os.getloadavg()[0]
    wall, cpu = time.perf_counter(), time.process_time()
    value = fn()
    return value, {"wall_s": round(time.perf_counter() - wall, 3), "cpu_s": round(time.process_time() - cpu, 3),
                   "load_avg_1m_before": round(load, 2), "load_avg_1m_after": round(os.getloadavg()[0], 2)}


def plain_path_patching(model, base_tokens, base_cache, source_cache, metric):
    """Seed 002's loop (get_path_patch_to_repr), on a TransformerBridge: final residual receiver."""
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    receiver = f"blocks.{n_layers - 1}.hook_resid_post"
    out = torch.zeros(n_layers, n_heads)
    for layer in range(n_layers):
        for head in range(n_heads):
            def freeze(z, hook, layer=layer, head=head):
                z = base_cache[hook.name].clone()
                if hook.layer() == layer:
                    z[:, :, head] = source_cache[hook.name][:, :, head]
                return z

            with model.hooks(fwd_hooks=[(f"blocks.{l}.attn.hook_z", freeze) for l in range(n_layers)]):
                _, recorded = model.run_with_cache(base_tokens, names_filter=lambda n: n == receiver)
            logits = model.run_with_hooks(base_tokens, fwd_hooks=[(receiver, lambda act, hook: recorded[receiver])])
            out[layer, head] = metric(logits)
    return out


def native_attribution(model, clean_tokens, corrupted_tokens, metric):
    """Attribution patching of every head's z, as Nanda's notebook writes it with TransformerLens hooks."""
    n_layers = model.cfg.n_layers
    names = [f"blocks.{l}.attn.hook_z" for l in range(n_layers)]
    _, clean_cache = model.run_with_cache(clean_tokens, names_filter=lambda n: n in names)
    acts, grads = {}, {}

    def keep(store, name):
        return lambda tensor, hook: store.__setitem__(name, tensor.detach())

    with torch.enable_grad():
        for n in names:
            model.add_hook(n, keep(acts, n), "fwd")
            model.add_hook(n, keep(grads, n), "bwd")
        try:
            value = metric(model(corrupted_tokens))
            value.backward()
        finally:
            model.reset_hooks()
            model.zero_grad(set_to_none=True)
    effect = torch.stack([((clean_cache[n] - acts[n]) * grads[n]).sum((0, 1, 3)) for n in names])
    return value.detach() + effect


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-dir", default="/tmp/lens4j-bench/tiny-12x768")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=16)
    p.add_argument("--out", default=str(ROOT / "bench" / "out" / "patching.json"))
    p.add_argument("--with-batched", action="store_true", help="also time lens4j's batched method (full forwards, stacked)")
    p.add_argument("--skip", default="", help="comma-separated: resid_pre,head_out,path,attribution")
    p.add_argument("--corrupt", default="10", help="positions where the corrupted prompts differ: 10 is seed 001's IOI corruption "
                   "(a pair's prompts differ only at the repeated name); 3,10 also changes an early name, the harder case")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own); 1 avoids OpenMP spinning on a loaded machine")
    p.add_argument("--arch", default="gpt2", choices=["gpt2", "llama", "gemma2"], help="the model's family (12 layers, d_model 768)")
    p.add_argument("--vocab", type=int, default=512, help="vocabulary size of the llama / gemma2 models")
    a = p.parse_args()
    skip = set(filter(None, a.skip.split(",")))
    corrupt = [int(x) for x in a.corrupt.split(",")]
    if a.threads:
        torch.set_num_threads(a.threads)

    torch.set_grad_enabled(False)
    if a.arch == "gpt2":
        model_dir = make_tiny_model(a.model_dir, n_layers=12, d_model=768, n_heads=12, n_ctx=64)
    else:
        model_dir = make_family_model(a.arch, f"/tmp/lens4j-bench/{a.arch}-12x768-v{a.vocab}", a.vocab)
    model = TransformerBridge.boot_transformers(str(model_dir), device="cpu", dtype=torch.float32)
    model.enable_compatibility_mode(disable_warnings=True)
    model.eval()

    gen = torch.Generator().manual_seed(0)
    vocab = model.cfg.d_vocab
    clean = torch.randint(1, vocab, (a.batch, a.seq), generator=gen)
    clean[:, 0] = model.tokenizer.bos_token_id
    corrupted = clean.clone()
    for pos in corrupt:
        corrupted[:, pos] = torch.randint(1, vocab, (a.batch,), generator=gen)
    answers = torch.randint(1, vocab, (a.batch, 2), generator=gen).tolist()
    spec = {"type": "logit_diff", "answers": answers}
    metric = metric_from_spec(None, model, spec, corrupted)
    s = Session()
    model(clean)  # warm up

    results: dict = {
        "machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
                    "python": platform.python_version(), "platform": platform.platform()},
        "model": {"arch": a.arch, "n_layers": model.cfg.n_layers, "d_model": model.cfg.d_model, "n_heads": model.cfg.n_heads,
                  "n_key_value_heads": getattr(model.cfg, "n_key_value_heads", None), "d_vocab": vocab, "dir": str(model_dir)},
        "input": {"batch": a.batch, "seq": a.seq, "corrupted_positions": corrupt,
                  "tokens": "random ids, BOS first; corrupted = clean with new random ids at corrupted_positions"},
        "metric": "logit_diff at the last position, mean over the batch",
        "comparisons": {},
    }

    def tl_sweep(fn):
        def run():
            _, clean_cache = model.run_with_cache(clean)
            return fn(model, corrupted, clean_cache, metric)
        return run

    sweeps = [("resid_pre", "resid_pre", tl_patching.get_act_patch_resid_pre),
              ("head_out", "attn_head_out_all_pos", tl_patching.get_act_patch_attn_head_out_all_pos)]
    exact = {}
    for key, kind, fn in sweeps:
        if key in skip:
            continue
        ours, ours_t = timed(lambda: sweep(s, model, corrupted, spec, kind=kind, clean=clean, method="suffix"))
        ref, ref_t = timed(tl_sweep(fn))
        entry = {
            "transformer_lens": {**ref_t, "forward_passes": ref.numel()},
            "lens4j": {**ours_t, **{k: ours[k] for k in ("method", "patches", "skipped_unchanged", "chunk_size", "last_block_tail",
                                                         "head_entry", "head_entry_reason")}},
            "ratio_wall": round(ref_t["wall_s"] / ours_t["wall_s"], 2),
            "ratio_cpu": round(ref_t["cpu_s"] / ours_t["cpu_s"], 2),
            "max_abs_diff": float((ours["values"] - ref).abs().max()),
            "value_range": [float(ref.min()), float(ref.max())],
        }
        if a.with_batched:
            batched, batched_t = timed(lambda: sweep(s, model, corrupted, spec, kind=kind, clean=clean, method="batched"))
            entry["lens4j_batched"] = {**batched_t, "ratio_wall": round(ref_t["wall_s"] / batched_t["wall_s"], 2),
                                       "max_abs_diff": float((batched["values"] - ref).abs().max())}
        results["comparisons"][f"get_act_patch_{kind}"] = entry
        exact[kind] = (ref, ref_t)
        print(kind, json.dumps(entry), flush=True)

    if "attribution" not in skip:
        kind = "attn_head_out_all_pos"
        ours, ours_t = timed(lambda: attribution(s, model, corrupted, spec, kind=kind, clean=clean))
        native, native_t = timed(lambda: native_attribution(model, clean, corrupted, metric))
        entry = {
            "native_attribution": native_t,
            "lens4j": ours_t,
            "ratio_wall": round(native_t["wall_s"] / ours_t["wall_s"], 2),
            "ratio_cpu": round(native_t["cpu_s"] / ours_t["cpu_s"], 2),
            "max_abs_diff": float((ours["values"] - native).abs().max()),
        }
        if kind in exact:
            ref, ref_t = exact[kind]
            base = float(ours["corrupted_value"])
            est, true = (ours["values"] - base).flatten(), (ref - base).flatten()
            top = min(10, true.numel())
            entry["vs_exact_sweep"] = {
                "speedup_vs_transformer_lens_wall": round(ref_t["wall_s"] / ours_t["wall_s"], 1),
                "max_abs_error": float((est - true).abs().max()),
                "exact_effect_range": [float(true.min()), float(true.max())],
                "pearson_r": float(torch.corrcoef(torch.stack([est, true]))[0, 1]),
                f"top{top}_by_abs_effect_shared": len(set(est.abs().topk(top).indices.tolist()) & set(true.abs().topk(top).indices.tolist())),
            }
        results["comparisons"]["attribution_attn_head_out_all_pos"] = entry
        print("attribution", json.dumps(entry), flush=True)

    if "path" not in skip:
        receivers = {"type": "final"}
        ours, ours_t = timed(lambda: path_patch(s, model, clean, corrupted, spec, receivers, method="suffix"))

        def plain():
            _, clean_cache = model.run_with_cache(clean)
            _, corrupted_cache = model.run_with_cache(corrupted)
            return plain_path_patching(model, corrupted, corrupted_cache, clean_cache, metric)

        ref, ref_t = timed(plain)
        entry = {
            "plain_loop": {**ref_t, "forward_passes": 2 * ref.numel()},
            "lens4j": {**ours_t, **{k: ours[k] for k in ("method", "frozen_shortcut", "frozen_shortcut_reason", "first_difference",
                                                         "chunk_size")}},
            "ratio_wall": round(ref_t["wall_s"] / ours_t["wall_s"], 2),
            "ratio_cpu": round(ref_t["cpu_s"] / ours_t["cpu_s"], 2),
            "max_abs_diff": float((ours["values"] - ref).abs().max()),
            "value_range": [float(ref.min()), float(ref.max())],
            "receivers": f"final residual (blocks.{model.cfg.n_layers - 1}.hook_resid_post), direction denoise (seed 002)",
        }
        results["comparisons"]["path_patching_final_resid"] = entry
        print("path_patching", json.dumps(entry), flush=True)

    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
