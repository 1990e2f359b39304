"""Random-weight GPT-2-architecture models saved as Hugging Face directories.

They load through ``TransformerBridge.boot_transformers(dir)`` exactly like a hub model,
which is what the tests and benchmarks need: the real loading path, no network.

    python -m lens4j_bridge.toy.tiny OUT_DIR --layers 2 --d-model 64 --heads 4
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

# Text the tokenizer is trained on: the words of the seeds' prompts, so that names and
# common words are single tokens with a leading space, as in GPT-2's vocabulary.
CORPUS = [
    "When John and Mary went to the shops, John gave the bag to Mary.",
    "When Tom and James went to the park, James gave the ball to Tom.",
    "When Dan and Sid went to the store, Sid gave a ring to Dan.",
    "After Martin and Amy went to the restaurant, Amy gave a drink to Martin.",
    "The Eiffel Tower is in the city of Paris. The cat sat on the mat.",
    "Alice and Bob talked about the weather; Claire laughed and Kate left.",
    "1 2 3 4 5 6 7 8 9 10 one two three four five six seven eight nine ten",
    "I think that the answer is yes, but you said no. Love hate good bad.",
]

BOS = "<|endoftext|>"


def build_tokenizer(vocab_size: int = 512):
    """A byte-level BPE tokenizer (GPT-2's scheme) trained on CORPUS, as a transformers tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[BOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS * 20, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=BOS, unk_token=BOS)


def make_tiny_model(
    out_dir: str | Path,
    n_layers: int = 2,
    d_model: int = 64,
    n_heads: int = 4,
    n_ctx: int = 128,
    vocab_size: int = 512,
    seed: int = 0,
) -> Path:
    """Save a random GPT-2-architecture model and its tokenizer to ``out_dir``; reuse it if there."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    out = Path(out_dir)
    spec = dict(n_layers=n_layers, d_model=d_model, n_heads=n_heads, n_ctx=n_ctx, vocab_size=vocab_size, seed=seed)
    marker = out / "lens4j-tiny.json"
    if marker.exists() and json.loads(marker.read_text()) == spec:
        return out
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(vocab_size)
    cfg = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=n_ctx,
        n_embd=d_model,
        n_layer=n_layers,
        n_head=n_heads,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(seed)
    GPT2LMHeadModel(cfg).save_pretrained(out)
    tokenizer.save_pretrained(out)
    marker.write_text(json.dumps(spec))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out_dir")
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--n-ctx", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    print(make_tiny_model(a.out_dir, a.layers, a.d_model, a.heads, a.n_ctx, seed=a.seed))


if __name__ == "__main__":
    main()
