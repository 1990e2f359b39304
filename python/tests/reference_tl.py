"""Reference values computed directly with TransformerLens, for the Java parity tests.

The Java tests run this script with the venv's Python, in a separate process, so that the
reference never goes through lens4j's bridge:

    python reference_tl.py MODEL_DIR OUT_DIR PROMPT [PROMPT ...]

It writes, for the first prompt: tokens.json (ids and strings), logits.f32, and one
.f32 file per cache entry (raw little-endian float32, C order) with shapes in index.json.
With ``--act-names`` it instead writes act_names.json: get_act_name over many inputs.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def act_names(out: Path) -> None:
    from transformer_lens.utilities import get_act_name

    cases = []
    for name in ["resid_pre", "resid_mid", "resid_post", "attn_out", "mlp_out", "embed", "pos_embed", "q", "k", "v",
                 "z", "pattern", "attn", "attn_scores", "attn_logits", "key", "query", "value", "result", "pre",
                 "post", "mid", "mlp_pre", "mlp_post", "mlp_mid", "scale", "normalized", "rot_k", "rot_q",
                 "pre_linear", "unembed", "blocks.0.hook_resid_pre", "hook_embed"]:
        for layer in [None, 0, 3, 11]:
            for layer_type in [None, "attn", "mlp", "ln1", "ln2", "a", "m", "b", "block", "blocks", "attention"]:
                try:
                    full = get_act_name(name, layer, layer_type)
                except Exception as e:  # record failures too: Java must fail where Python fails
                    full = f"!{type(e).__name__}"
                cases.append({"name": name, "layer": layer, "layer_type": layer_type, "full": full})
    for compact in ["k6", "scale4ln1", "pre5", "resid_pre10", "z0", "pattern2", "normalized3ln2", "v11a"]:
        cases.append({"name": compact, "layer": None, "layer_type": None, "full": get_act_name(compact)})
    (out / "act_names.json").write_text(json.dumps(cases))


def main() -> None:
    if sys.argv[1] == "--act-names":
        out = Path(sys.argv[2])
        out.mkdir(parents=True, exist_ok=True)
        act_names(out)
        return
    import torch
    from transformer_lens.model_bridge import TransformerBridge

    model_dir, out, prompts = sys.argv[1], Path(sys.argv[2]), sys.argv[3:]
    out.mkdir(parents=True, exist_ok=True)
    torch.set_grad_enabled(False)
    model = TransformerBridge.boot_transformers(model_dir, device="cpu", dtype=torch.float32)
    model.enable_compatibility_mode(disable_warnings=True)
    prompt = prompts[0]
    tokens = model.to_tokens(prompt)
    logits, cache = model.run_with_cache(tokens)
    index = {"logits": list(logits.shape)}
    logits.contiguous().numpy().astype("<f4").tofile(out / "logits.f32")
    for name in ["blocks.0.attn.hook_pattern", "blocks.1.hook_resid_pre", "blocks.0.hook_mlp_out", "ln_final.hook_normalized"]:
        t = cache[name]
        index[name] = list(t.shape)
        t.contiguous().numpy().astype("<f4").tofile(out / f"{name}.f32")
    (out / "index.json").write_text(json.dumps(index))
    (out / "tokens.json").write_text(json.dumps({
        "ids": tokens[0].tolist(),
        "str": model.to_str_tokens(prompt),
        "batch_ids": model.to_tokens(prompts).tolist(),
        "mary": model.to_single_token(" Mary"),
        "string": model.to_string(tokens[0]),
    }))


if __name__ == "__main__":
    main()
