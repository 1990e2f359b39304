"""Native TransformerLens timings for the hooks benchmark: the hooks that HooksBench runs
through lens4j (declarative actions, Java lambdas), written by hand as Python hooks and run
directly in Python, in the same venv, on the same model.

    python bench/hooks_native.py MODEL_DIR BATCH SEQ EMBED_BATCH EMBED_SEQ EMBED_HOOKS

It prints {"ready": true, ...}, then reads case names from stdin, one per line, runs that
case once and prints {"case": name, "s": seconds}; "quit" ends. HooksBench alternates one
Java run and one native run of each case, so that both see the same machine load. Cases:

- plain: a forward with no hook;
- zero_head: seed 004's hook, z[:, -1, 3, :] = 0 at blocks.6.attn.hook_z;
- steer12: x += v at blocks.L.hook_resid_pre of every layer (12 hooks);
- noop12: a hook that only reads the activation's shape, at every resid_pre (12 hooks);
- embed_plain / embed_noop: a forward that stops at layer 0 (only the embeddings) on
  [EMBED_BATCH, EMBED_SEQ] tokens, without and with EMBED_HOOKS no-op hooks on hook_embed.
"""

from __future__ import annotations

import json
import sys
import time

import torch
from transformer_lens.model_bridge import TransformerBridge


def main() -> None:
    model_dir = sys.argv[1]
    batch, seq, embed_batch, embed_seq, embed_hooks = (int(a) for a in sys.argv[2:7])
    torch.set_grad_enabled(False)
    model = TransformerBridge.boot_transformers(model_dir, device="cpu", dtype=torch.float32)
    model.enable_compatibility_mode(disable_warnings=True)
    gen = torch.Generator().manual_seed(0)
    tokens = torch.randint(1, model.cfg.d_vocab, (batch, seq), generator=gen)
    embed_tokens = torch.randint(1, model.cfg.d_vocab, (embed_batch, embed_seq), generator=gen)
    steer = torch.randn(model.cfg.d_model, generator=gen)

    def zero_head(z, hook):
        z[:, -1, 3, :] = 0
        return z

    def add_steer(x, hook):
        x += steer
        return x

    shapes = []

    def noop(x, hook):
        shapes.append(x.shape)

    resid_pre = [f"blocks.{layer}.hook_resid_pre" for layer in range(model.cfg.n_layers)]
    cases = {
        "plain": lambda: model(tokens),
        "zero_head": lambda: model.run_with_hooks(tokens, fwd_hooks=[("blocks.6.attn.hook_z", zero_head)]),
        "steer12": lambda: model.run_with_hooks(tokens, fwd_hooks=[(n, add_steer) for n in resid_pre]),
        "noop12": lambda: model.run_with_hooks(tokens, fwd_hooks=[(n, noop) for n in resid_pre]),
        "embed_plain": lambda: model(embed_tokens, stop_at_layer=0),
        "embed_noop": lambda: model.run_with_hooks(embed_tokens, stop_at_layer=0, fwd_hooks=[("hook_embed", noop)] * embed_hooks),
    }
    for fn in cases.values():
        fn()
    print(json.dumps({"ready": True, "threads": torch.get_num_threads(), "cases": list(cases)}), flush=True)
    for line in sys.stdin:
        name = line.strip()
        if name == "quit":
            break
        start = time.perf_counter()
        cases[name]()
        elapsed = time.perf_counter() - start
        shapes.clear()
        print(json.dumps({"case": name, "s": elapsed}), flush=True)


if __name__ == "__main__":
    main()
