"""The analysis ops against the same computation done directly with TransformerLens: its
ActivationCache methods, head_detector.detect_head, utilities.test_prompt, and the seeds'
own formulas and hook loops (copied here as the references)."""

from __future__ import annotations

import re
from functools import partial

import pytest
import torch
from transformer_lens import utilities
from transformer_lens.head_detector import detect_head as tl_detect_head
from transformer_lens.utilities import get_act_name

from lens4j_bridge.errors import LensError
from lens4j_bridge.session import Session

TOL = 1e-5  # activations and single values, fp32
SWEEP_TOL = 1e-4  # sums over many terms, normalized sweeps

PROMPT_FORMAT = [
    "When John and Mary went to the shops,{} gave the bag to",
    "When Tom and James went to the park,{} gave the ball to",
    "After Martin and Amy went to the park,{} gave a drink to",
]
NAMES = [(" Mary", " John"), (" Tom", " James"), (" Martin", " Amy")]
PROMPTS = [PROMPT_FORMAT[i].format(NAMES[i][1 - j]) for i in range(3) for j in range(2)]
ANSWERS = [[NAMES[i][j], NAMES[i][1 - j]] for i in range(3) for j in range(2)]
# Seed 001/004: swap each pair of prompts to get the corrupted run.
CORRUPTED = [PROMPTS[i + 1 - 2 * (i % 2)] for i in range(len(PROMPTS))]


@pytest.fixture(scope="module")
def model(tiny_model_dir):
    """The tiny model with its weights (not the layer norms) scaled by 4: sharper attention and logits, so that
    ranks, top tokens and head scores differ enough for the comparisons to mean something."""
    from transformer_lens.model_bridge import TransformerBridge

    torch.set_grad_enabled(False)
    m = TransformerBridge.boot_transformers(str(tiny_model_dir), device="cpu", dtype=torch.float32)
    m.enable_compatibility_mode(disable_warnings=True)
    for name, p in m.named_parameters():
        if ".ln_" not in name:  # folded layer norms keep unit weights, as DLA's cached scales assume
            p.mul_(4)
    return m


@pytest.fixture(scope="module")
def s(model) -> Session:
    return Session()


def call(s: Session, op: str, **args):
    """Dispatch like the worker does, with the model / cache / tensors put in the handle table."""
    encoded = {k: ({"$h": s.handles.put(v)} if _is_object(v) else v) for k, v in args.items()}
    value, _ = s.dispatch(op, encoded, [])
    return _decode(s, value)


def _is_object(v) -> bool:
    return isinstance(v, torch.Tensor) or hasattr(v, "cfg") or type(v).__name__ == "ActivationCache"


def _decode(s: Session, value):
    if isinstance(value, dict):
        if "$tensor" in value:
            return s.handles.get(value["$tensor"])
        return {k: _decode(s, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(s, v) for v in value]
    return value


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return (a.float() - b.float()).abs().max().item() if a.numel() else 0.0


def answer_tokens(model) -> torch.Tensor:
    return torch.tensor([[model.to_single_token(a), model.to_single_token(b)] for a, b in ANSWERS])


# ---------------------------------------------------------------------------------------
# test_prompt
# ---------------------------------------------------------------------------------------

# A token's text may hold a newline, so it ends at the "|" that ends its line of output.
_END = r"\|(.*?)\|(?=\n(?:Top |Rank|Ranks |Perf)|\n?$)"
LINE = re.compile(r"Rank: (\d+)\s+Logit:\s*(-?[\d.]+) Prob:\s*([\d.]+)% Token: " + _END, re.S)
TOP = re.compile(r"Top (\d+)th token\. Logit:\s*(-?[\d.]+) Prob:\s*([\d.]+)% Token: " + _END, re.S)


@pytest.mark.parametrize("answer", [" Mary", " Mary gave the", [" Mary", " John", " the"]])
def test_test_prompt_matches_transformer_lens(s, model, capsys, answer):
    prompt = PROMPTS[0]
    got = call(s, "analysis.test_prompt", model=model, prompt=prompt, answer=answer, top_k=5)
    capsys.readouterr()
    utilities.test_prompt(prompt, answer, model, top_k=5)
    printed = capsys.readouterr().out
    ranks = [(int(m[1]), float(m[2]), float(m[3]), m[4]) for m in LINE.finditer(printed)]
    tops = [(int(m[1]), float(m[2]), float(m[3]), m[4]) for m in TOP.finditer(printed)]
    n_answers = 1 if isinstance(answer, str) else len(answer)
    assert len(got["steps"]) * n_answers == len(ranks) and len(got["steps"]) * 5 == len(tops)
    for k, step in enumerate(got["steps"]):
        for i in range(n_answers):
            rank, logit, prob, text = ranks[k * n_answers + i]
            assert step["ranks"][i] == rank and step["answer_tokens"][i] == text
            assert abs(step["logits"][i] - logit) <= 0.005 + 1e-9 and abs(100 * step["probs"][i] - prob) <= 0.005 + 1e-9
        for j in range(5):
            _, logit, prob, text = tops[k * 5 + j]
            assert step["top_tokens"][j] == text
            assert abs(step["top_logits"][j] - logit) <= 0.005 + 1e-9 and abs(100 * step["top_probs"][j] - prob) <= 0.005 + 1e-9
    # Exact numbers: the same computation, read straight from the logits.
    answers = [answer] if isinstance(answer, str) else answer
    tokens = torch.cat([model.to_tokens(prompt).repeat(len(answers), 1),
                        torch.cat([model.to_tokens(a, prepend_bos=False)[:, :1] for a in answers]) if len(answers) > 1
                        else model.to_tokens(answers, prepend_bos=False)], dim=1)
    logits = model(tokens)
    for step in got["steps"]:
        p = step["position"]
        for i, tid in enumerate(step["answer_token_ids"]):
            assert abs(step["logits"][i] - logits[i, p, tid].item()) <= TOL
            assert abs(step["probs"][i] - logits[i, p].softmax(-1)[tid].item()) <= TOL
            assert step["ranks"][i] == int((logits[i, p] > logits[i, p, tid]).sum())
    assert got["prompt_tokens"] == model.to_str_tokens(prompt)


# ---------------------------------------------------------------------------------------
# Logit lens
# ---------------------------------------------------------------------------------------


def seed003_logit_lens(model, prompt):
    """Seed 003's logit_lens_analysis solution, verbatim but for the model name."""
    tokens = model.to_tokens(prompt)
    final_logits, cache = model.run_with_cache(tokens, remove_batch_dim=True)
    num_layers = len(model.blocks)
    stack = torch.stack([cache[f"blocks.{i}.ln2.hook_normalized"] for i in range(num_layers)], dim=1)
    unembedded = model.unembed(stack).log_softmax(dim=-1)
    top = torch.argmax(unembedded, dim=-1)
    final = final_logits[0][:, None, :].expand(-1, num_layers, -1)
    kl = torch.nn.functional.kl_div(unembedded, final.softmax(dim=-1), reduction="none").sum(-1)
    return tokens, top, kl, unembedded


def test_logit_lens_ln2_matches_seed_003(s, model):
    prompt = "James Potter went to school. James"
    tokens, top, kl, logp = seed003_logit_lens(model, prompt)
    target = " James"
    got = call(s, "analysis.logit_lens", model=model, input=prompt, top_k=3, target=target)
    assert got["labels"] == ["0_ln2", "1_ln2"] and got["positions"] == list(range(tokens.shape[1]))
    assert torch.equal(got["top_token_ids"][:, 0, :, 0].T, top)
    assert max_diff(got["kl"][:, 0].T, kl) <= TOL
    tid = model.to_single_token(target)
    assert max_diff(got["target_probs"][:, 0].T, logp[..., tid].exp()) <= TOL
    assert max_diff(got["top_probs"][:, 0, :, 0].T, logp.max(-1).values.exp()) <= TOL
    assert got["top_tokens"][1][0][3] == [model.tokenizer.decode([i]) for i in got["top_token_ids"][1, 0, 3].tolist()]
    # Rows and positions subsets read the same numbers.
    sub = call(s, "analysis.logit_lens", model=model, input=prompt, layers=[-1], positions=[-1, 2], top_k=3, target=target)
    assert max_diff(sub["kl"][0, 0], got["kl"][1, 0, [tokens.shape[1] - 1, 2]]) <= TOL
    assert sub["positions"] == [tokens.shape[1] - 1, 2] and sub["labels"] == ["1_ln2"]


def test_logit_lens_resid_post_and_accumulated(s, model):
    prompts = PROMPTS[:2]
    logits, cache = model.run_with_cache(prompts)
    got = call(s, "analysis.logit_lens", model=model, input=prompts, source="resid_post", top_k=4)
    last = model.unembed(model.ln_final(cache["resid_post", 1])).log_softmax(-1)
    assert got["kl"][-1].abs().max().item() <= 1e-5  # the last row is the model's own output
    assert max_diff(got["top_probs"][-1], last.topk(4, dim=-1).values.exp()) <= TOL
    # Seed 001: accumulated_resid through apply_ln_to_stack(layer=-1), then the unembed.
    acc = call(s, "analysis.logit_lens", model=model, input=prompts, source="accumulated_resid", incl_mid=True, top_k=4, target=" Mary")
    stack, labels = cache.accumulated_resid(layer=-1, incl_mid=True, return_labels=True)
    ref = model.unembed(cache.apply_ln_to_stack(stack, layer=-1)).log_softmax(-1)
    assert acc["labels"] == labels == ["0_pre", "0_mid", "1_pre", "1_mid", "final_post"]
    assert max_diff(acc["top_probs"], ref.topk(4, dim=-1).values.exp()) <= TOL
    final = logits.log_softmax(-1)
    ref_kl = (final.exp()[None] * (final[None] - ref)).sum(-1)
    assert max_diff(acc["kl"], ref_kl) <= TOL
    mary = model.to_single_token(" Mary")
    assert max_diff(acc["target_probs"], ref[..., mary].exp()) <= TOL
    assert torch.equal(acc["target_ranks"], (ref > ref[..., mary:mary + 1]).sum(-1))
    # recompute_ln: TransformerLens' own accumulated_resid(apply_ln=True) at the unembed.
    rec = call(s, "analysis.logit_lens", model=model, input=prompts, source="accumulated_resid", recompute_ln=True, top_k=2)
    ref_rec = model.unembed(cache.accumulated_resid(layer=-1, apply_ln=True)).log_softmax(-1)
    assert max_diff(rec["top_probs"], ref_rec.topk(2, dim=-1).values.exp()) <= TOL


# ---------------------------------------------------------------------------------------
# Direct logit attribution
# ---------------------------------------------------------------------------------------


def test_cache_methods_match_activation_cache(s, model):
    _, cache = model.run_with_cache(PROMPTS[:2])
    got = call(s, "analysis.accumulated_resid", cache=cache, incl_mid=True, pos_slice=-1, apply_ln=True)
    ref, labels = cache.accumulated_resid(incl_mid=True, pos_slice=-1, apply_ln=True, return_labels=True)
    assert got["labels"] == labels and max_diff(got["stack"], ref) <= TOL
    got = call(s, "analysis.decompose_resid", cache=cache, layer=1, mlp_input=True, pos_slice={"start": 2, "stop": 9, "step": 3})
    ref, labels = cache.decompose_resid(layer=1, mlp_input=True, pos_slice=(2, 9, 3), return_labels=True)
    assert got["labels"] == labels and max_diff(got["stack"], ref) <= TOL
    got = call(s, "analysis.stack_head_results", cache=cache, incl_remainder=True, pos_slice=[0, -1])
    ref, labels = cache.stack_head_results(incl_remainder=True, pos_slice=[0, -1], return_labels=True)
    assert got["labels"] == labels and labels[3] == "L0H3" and max_diff(got["stack"], ref) <= TOL
    got = call(s, "analysis.get_full_resid_decomposition", cache=cache, pos_slice=-1, apply_ln=True)
    ref, labels = cache.get_full_resid_decomposition(pos_slice=-1, apply_ln=True, return_labels=True)
    assert got["labels"] == labels and max_diff(got["stack"], ref) <= TOL
    stack = cache.decompose_resid(pos_slice=-1)
    got = call(s, "analysis.apply_ln_to_stack", cache=cache, residual_stack=stack, pos_slice=-1)
    assert max_diff(got["stack"], cache.apply_ln_to_stack(stack, pos_slice=-1)) <= TOL
    got = call(s, "analysis.logit_attrs", cache=cache, residual_stack=stack, tokens=[" Mary", " Tom"], incorrect_tokens=[" John", " James"], pos_slice=-1)
    ref = cache.logit_attrs(stack, tokens=torch.tensor([316, 319]), incorrect_tokens=torch.tensor([315, 321]), pos_slice=-1)
    assert max_diff(got["attrs"], ref) <= TOL


def seed001_residual_stack_to_logit_diff(model, cache, stack, n_prompts):
    directions = model.tokens_to_residual_directions(answer_tokens(model))
    logit_diff_directions = directions[:, 0] - directions[:, 1]
    scaled = cache.apply_ln_to_stack(stack, layer=-1, pos_slice=-1)
    return torch.einsum("...bd,bd->...", scaled, logit_diff_directions) / n_prompts


def test_logit_diff_attribution_matches_seed_001(s, model):
    logits, cache = model.run_with_cache(PROMPTS)
    n = len(PROMPTS)
    for by, method, kwargs in [
        ("layer", cache.decompose_resid, {}),
        ("head", cache.stack_head_results, {}),
        ("accumulated", cache.accumulated_resid, {"incl_mid": True}),
        ("component", cache.get_full_resid_decomposition, {"expand_neurons": False}),
    ]:
        got = call(s, "analysis.logit_diff_attribution", model=model, cache=cache, answers=ANSWERS, by=by)
        stack, labels = method(layer=-1, pos_slice=-1, return_labels=True, **kwargs)
        ref = seed001_residual_stack_to_logit_diff(model, cache, stack, n)
        if by == "head":
            ref = ref.reshape(model.cfg.n_layers, model.cfg.n_heads)
        assert got["labels"] == labels and max_diff(got["attributions"], ref) <= TOL, by
        assert max_diff(got["per_prompt"].mean(-1), got["attributions"].flatten()) <= TOL
    # The components add up to the whole logit difference (the seed's "calculated average logit diff").
    assert abs(got["attributions"].sum().item() - got["logit_diff"]) <= SWEEP_TOL
    # ... and, with the unembedding bias's share added, to the model's own logit difference.
    answers = answer_tokens(model)
    final = logits[:, -1].gather(-1, answers)
    bias = (model.b_U[answers[:, 0]] - model.b_U[answers[:, 1]]).mean().item()
    assert abs(got["logit_diff"] + bias - (final[:, 0] - final[:, 1]).mean().item()) <= SWEEP_TOL


# ---------------------------------------------------------------------------------------
# Head detector
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("pattern", ["previous_token_head", "duplicate_token_head", "induction_head"])
def test_detect_head_matches_transformer_lens(s, model, pattern):
    text = "When John and Mary went to the shops, John and Mary gave the bag to John"
    for kwargs in [{}, {"exclude_bos": True, "exclude_current_token": True}, {"error_measure": "abs"}]:
        got = call(s, "analysis.detect_head", model=model, input=text, pattern=pattern, **kwargs)
        ref = tl_detect_head(model, text, pattern, **kwargs)
        tol = 1e-3 + 1e-6 if kwargs.get("error_measure") == "abs" else TOL  # "abs" rounds to 3 decimals
        assert max_diff(got["scores"], ref) <= tol, kwargs
    # A list: the mean of per-sequence grids; one forward per sequence length.
    texts = [text, "The cat sat on the mat. The cat sat on the mat.", "1 2 3 4 1 2 3 4 1 2 3 4"]
    got = call(s, "analysis.detect_head", model=model, input=texts, pattern=pattern)
    assert max_diff(got["scores"], tl_detect_head(model, texts, pattern)) <= TOL
    heads = [[0, 1], [1, 3]]
    got = call(s, "analysis.detect_head", model=model, input=text, pattern=pattern, heads=heads)
    assert max_diff(got["scores"], tl_detect_head(model, text, pattern, heads=[(0, 1), (1, 3)])) <= TOL
    assert (got["scores"] == -1).sum().item() == model.cfg.n_layers * model.cfg.n_heads - 2


def test_detect_head_custom_pattern_and_repeated_tokens(s, model):
    from transformer_lens.head_detector import compute_head_attention_similarity_score, get_induction_head_detection_pattern

    rep = call(s, "analysis.repeated_random_tokens", model=model, seq_len=10, batch=2, seed=0)
    torch.manual_seed(0)  # seeds 001/004: torch.manual_seed(0); randint(100, 20000 -> vocab)
    original = torch.randint(100, model.cfg.d_vocab, size=(2, 10))
    bos = model.tokenizer.bos_token_id
    assert torch.equal(rep["tokens"], torch.cat([torch.full((2, 1), bos), original, original], dim=1))
    # Token input (no string round trip): TransformerLens' own per-head score on each row's cache, averaged.
    tokens = rep["tokens"]
    got = call(s, "analysis.detect_head", model=model, input=tokens, pattern="induction_head", exclude_bos=True)
    ref = torch.zeros(2, model.cfg.n_layers, model.cfg.n_heads)
    for b in range(2):
        _, cache = model.run_with_cache(tokens[b:b + 1], remove_batch_dim=True)
        det = get_induction_head_detection_pattern(tokens[b:b + 1])
        for layer in range(model.cfg.n_layers):
            for head in range(model.cfg.n_heads):
                ref[b, layer, head] = compute_head_attention_similarity_score(
                    cache["pattern", layer][head], det, exclude_bos=True, exclude_current_token=False, error_measure="mul")
    assert max_diff(got["scores"], ref.mean(0)) <= TOL
    # A custom pattern against detect_head itself.
    text = PROMPTS[0]
    n = model.to_tokens(text).shape[1]
    custom = torch.tril(torch.ones(n, n)) * (torch.arange(n)[None] % 3 == 0)
    got = call(s, "analysis.detect_head", model=model, input=text, pattern=custom, error_measure="abs")
    assert max_diff(got["scores"], tl_detect_head(model, text, custom, error_measure="abs")) <= 1e-3 + 1e-6
    got = call(s, "analysis.detect_head", model=model, input=text, pattern=custom)
    assert max_diff(got["scores"], tl_detect_head(model, text, custom)) <= TOL


def test_repeated_token_scores_match_seed_001(s, model):
    seq_len = 12
    tokens = call(s, "analysis.repeated_random_tokens", model=model, seq_len=seq_len, batch=2, seed=3, prepend_bos=False)["tokens"]
    scores = {k: torch.zeros(model.cfg.n_layers, model.cfg.n_heads) for k in ("prev", "dup", "ind")}

    def hook(pattern, hook, key, offset):  # seed 001's three hooks in one
        scores[key][hook.layer()] = pattern.diagonal(offset=offset, dim1=-1, dim2=-2).mean(dim=(0, 2))

    pattern_filter = lambda name: name.endswith("hook_pattern")  # noqa: E731
    model.run_with_hooks(tokens, return_type="loss", fwd_hooks=[
        (pattern_filter, partial(hook, key="prev", offset=1)),
        (pattern_filter, partial(hook, key="dup", offset=seq_len)),
        (pattern_filter, partial(hook, key="ind", offset=seq_len - 1))])
    got = call(s, "analysis.repeated_token_scores", model=model, tokens=tokens, seq_len=seq_len)
    assert max_diff(got["previous_token"], scores["prev"]) <= TOL
    assert max_diff(got["duplicate_token"], scores["dup"]) <= TOL
    assert max_diff(got["induction"], scores["ind"]) <= TOL


def test_induction_scores_match_seed_000(s, model):
    questions = ["0+0=", "1+2=", "5+10=", "1 2 3 1 2 3", "When John and Mary went"]
    got = call(s, "analysis.induction_scores", model=model, prompts=questions)
    question_embeds = model.to_tokens(questions)
    for q, question_token in enumerate(question_embeds):  # seed 000's loop, one run per question
        length = len(question_token)
        store = torch.zeros(model.cfg.n_layers, model.cfg.n_heads)

        def induction_score_hook(activation_pattern, hook):
            stripe = activation_pattern.diagonal(dim1=-2, dim2=-1, offset=1 - length // 2)
            store[hook.layer(), :] = stripe.mean(dim=(0, 2))

        model.run_with_hooks(question_token, return_type=None,
                             fwd_hooks=[(lambda name: name.endswith("pattern"), induction_score_hook)])
        assert max_diff(got["scores"][q], store) <= TOL
        flat = int(store.flatten().argmax())
        assert (got["max_layer"][q], got["max_head"][q]) == divmod(flat, model.cfg.n_heads)


# ---------------------------------------------------------------------------------------
# Steering and activation datasets (seed 003)
# ---------------------------------------------------------------------------------------

PAIRS = [["good : bad", "good : gut"], ["cold : warm", "cold : kalt"], ["yes : no", "yes : ja"],
         ["one two : three", "one two : zwei"], ["Love : hate", "Love : Liebe"]]


def seed003_activations(model, prompt, demarcation_token):
    """Seed 003's prompt_to_residual_stream_activations solution."""
    tokens = model.to_tokens(prompt)[0].tolist()
    position = tokens.index(demarcation_token)
    tokens = torch.tensor(tokens[:position + 2]).unsqueeze(0)
    _, cache = model.run_with_cache(tokens, remove_batch_dim=True)
    stack = torch.stack([cache[f"blocks.{i}.ln2.hook_normalized"] for i in range(len(model.blocks))], dim=1)
    return stack[-1]


def test_activation_dataset_steering_and_pca_match_seed_003(s, model):
    got = call(s, "analysis.activation_dataset", model=model, prompt_pairs=PAIRS, demarcation=" :")
    dem = model.to_tokens(" :", prepend_bos=False)[0, -1].item()  # the seed's tokenizer.encode(" :")[-1]
    ref_a = torch.stack([seed003_activations(model, a, dem) for a, _ in PAIRS])
    ref_b = torch.stack([seed003_activations(model, b, dem) for _, b in PAIRS])
    assert max_diff(got["a"], ref_a) <= TOL and max_diff(got["b"], ref_b) <= TOL
    vec = call(s, "analysis.steering_vector", a=got["a"], b=got["b"])
    assert max_diff(vec["vector"], (ref_a - ref_b).mean(0)) <= TOL
    one = call(s, "analysis.steering_vector", a=got["a"], b=got["b"], layer=-1)
    assert max_diff(one["vector"], vec["vector"][-1]) <= TOL
    # resid_post at layer 1 equals resid_pre of... the residual stream read with run_with_cache directly.
    post = call(s, "analysis.activation_dataset", model=model, prompt_pairs=PAIRS[:2], demarcation=" :", hook="resid_post", layers=[1], offset=0)
    _, cache = model.run_with_cache(PAIRS[0][1])
    p = model.to_tokens(PAIRS[0][1])[0].tolist().index(dem)
    assert max_diff(post["b"][0, 0], cache["resid_post", 1][0, p]) <= TOL

    pca = call(s, "analysis.pca2", a=got["a"], b=got["b"])
    for i, layer in enumerate(pca["layers"]):
        x = torch.cat([ref_a[:, layer], ref_b[:, layer]])
        centered = x - x.mean(0)
        _, sv, vh = torch.linalg.svd(centered, full_matrices=False)
        for k in range(2):  # equal up to sign
            sign = torch.sign((pca["components"][i, k] * vh[k]).sum())
            assert max_diff(pca["components"][i, k], sign * vh[k]) <= TOL
            proj = torch.cat([pca["projections_a"][i, :, k], pca["projections_b"][i, :, k]])
            assert max_diff(proj, sign * centered @ vh[k]) <= TOL
        assert max_diff(pca["explained_variance_ratio"][i], (sv[:2] ** 2) / (sv ** 2).sum()) <= TOL


def test_pca_separability_on_known_data(s):
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(30, 1, 8, generator=gen) * 0.1 + 3.0
    b = torch.randn(30, 1, 8, generator=gen) * 0.1 - 3.0
    got = call(s, "analysis.pca2", a=a, b=b)
    assert got["accuracy_pca"].tolist() == [1.0] and got["accuracy_full"].tolist() == [1.0]
    assert got["explained_variance_ratio"][0, 0].item() > 0.9
    same = call(s, "analysis.pca2", a=a, b=a.clone())
    assert same["accuracy_full"].item() <= 0.5


# ---------------------------------------------------------------------------------------
# Ablation (seed 004)
# ---------------------------------------------------------------------------------------


# Text of the same token length as PROMPTS but unrelated to them: the corrupted run.
OTHER_TEXTS = ["Alice and Bob talked about the weather; Claire laughed and Kate left. The cat sat on the mat.",
               "I think that the answer is yes, but you said no. Love hate good bad.",
               "The Eiffel Tower is in the city of Paris. The cat sat on the mat.",
               "1 2 3 4 5 6 7 8 9 10 one two three four five six seven eight nine ten",
               "When Dan and Sid went to the store, Sid gave a ring to Dan.",
               "After Martin and Amy went to the restaurant, Amy gave a drink to Martin."]


@pytest.fixture(scope="module")
def ablation_data(model):
    """(clean tokens, corrupted tokens, answer ids): the answers are the clean run's top token
    against the seed's incorrect name, so that clean and corrupted metrics differ clearly on a
    random model (a symmetric IOI set averages to about zero there)."""
    clean = model.to_tokens(PROMPTS)
    corrupted = torch.stack([model.to_tokens(t)[0, :clean.shape[1]] for t in OTHER_TEXTS])
    top = model(clean)[:, -1].argmax(-1)
    answers = torch.stack([top, answer_tokens(model)[:, 1]], dim=1)
    return clean, corrupted, answers


def seed004_sweep(model, method, tokens, corrupted_tokens, answers, seed=None):
    """Seed 004's per-head loop with hooks; "mean_batch" is the mean over prompts and
    "resample_perm" draws clean prompts by a seeded permutation (both are lens4j's additions)."""
    original_logits, cache = model.run_with_cache(tokens)
    corrupted_logits = model(corrupted_tokens)

    def logits_to_ave_logit_diff(logits, answer_tokens):
        final_logits = logits[:, -1, :]
        answer_logits = final_logits.gather(dim=-1, index=answer_tokens)
        return (answer_logits[:, 0] - answer_logits[:, 1]).mean()

    clean_ld = logits_to_ave_logit_diff(original_logits, answers)
    corrupted_ld = logits_to_ave_logit_diff(corrupted_logits, answers)

    def patch_head_vector(v, hook, head_index, clean_cache):
        v[:, -1, head_index, :] = clean_cache[hook.name][:, -1, head_index, :]
        return v

    def zero_ablation_patch_head_vector(v, hook, head_index, clean_cache):
        v[:, -1, head_index, :] = 0
        return v

    def mean_ablation_patch_head_vector(v, hook, head_index, clean_cache):
        v[:, -1, head_index, :] = clean_cache[hook.name][:, -1, head_index, :].mean(dim=1, keepdim=True)
        return v

    def mean_batch(v, hook, head_index, clean_cache):
        v[:, -1, head_index, :] = clean_cache[hook.name][:, -1, head_index, :].mean(dim=0, keepdim=True)
        return v

    def resample_perm(v, hook, head_index, clean_cache):
        perm = torch.randperm(v.shape[0], generator=torch.Generator().manual_seed(seed))
        v[:, -1, head_index, :] = clean_cache[hook.name][perm][:, -1, head_index, :]
        return v

    function = {"resample": patch_head_vector, "zero": zero_ablation_patch_head_vector,
                "mean_d_head": mean_ablation_patch_head_vector, "mean_batch": mean_batch,
                "resample_perm": resample_perm}[method]
    diff = torch.zeros(model.cfg.n_layers, model.cfg.n_heads)
    for layer in range(model.cfg.n_layers):
        for head_index in range(model.cfg.n_heads):
            hook_fn = partial(function, head_index=head_index, clean_cache=cache)
            patched_logits = model.run_with_hooks(corrupted_tokens, fwd_hooks=[(get_act_name("z", layer, "attn"), hook_fn)], return_type="logits")
            diff[layer, head_index] = (logits_to_ave_logit_diff(patched_logits, answers) - corrupted_ld) / (clean_ld - corrupted_ld)
    return diff


@pytest.mark.parametrize("method,args,ref", [
    ("zero", {}, "zero"),
    ("mean", {}, "mean_batch"),
    ("mean", {"mean_over": "d_head"}, "mean_d_head"),
    ("resample", {}, "resample"),
    ("resample", {"seed": 7}, "resample_perm"),
])
def test_ablate_heads_matches_seed_004_loop(s, model, ablation_data, method, args, ref):
    tokens, corrupted, answers = ablation_data
    expected = seed004_sweep(model, ref, tokens, corrupted, answers, seed=args.get("seed"))
    progress = []
    s._progress = lambda done, total, msg: progress.append((done, total))
    got = call(s, "analysis.ablate_heads", model=model, clean=PROMPTS, corrupted=corrupted, answers=answers.tolist(),
               method=method, batch_size=12, **args)
    s._progress = None
    assert max_diff(got["scores"], expected) <= SWEEP_TOL
    assert abs(got["clean_metric"] - got["corrupted_metric"]) > 0.1  # a normalization that means something
    assert progress[-1] == (8, 8) and got["positions"] == [14]


def test_ablation_comparison_and_positions(s, model, ablation_data):
    tokens, corrupted, answers = ablation_data
    got = call(s, "analysis.ablation_comparison", model=model, clean=tokens, corrupted=corrupted, answers=answers.tolist(),
               categories={"early": [[0, 0], [0, 1], [0, 2]], "late": [[1, 0], [1, 3]]})
    assert got["methods"] == ["resample", "zero", "mean"]
    for i, ref in enumerate(["resample", "zero", "mean_batch"]):
        assert max_diff(got["scores"][i], seed004_sweep(model, ref, tokens, corrupted, answers)) <= SWEEP_TOL
    r = [got["scores"][0][l, h].item() for l, h in [(1, 0), (1, 3)]]
    z = [got["scores"][1][l, h].item() for l, h in [(1, 0), (1, 3)]]
    c = torch.tensor([abs(b / a) for b, a in zip(z, r) if a > 0.05])
    assert got["category_difference"]["late"]["zero"] == int((c.sum() / len(r) * 100).item())
    # Several positions and a subset of heads, against a plain hook loop.
    sub = call(s, "analysis.ablate_heads", model=model, clean=tokens, corrupted=corrupted, answers=answers.tolist(),
               method="zero", positions=[-1, 3], heads=[[1, 2]], normalize=False)
    assert torch.isnan(sub["scores"]).sum().item() == model.cfg.n_layers * model.cfg.n_heads - 1

    def zero(z, hook):
        z[:, [-1, 3], 2, :] = 0
        return z

    logits = model.run_with_hooks(corrupted, fwd_hooks=[(get_act_name("z", 1), zero)])
    final = logits[:, -1].gather(-1, answers)
    assert abs(sub["scores"][1, 2].item() - (final[:, 0] - final[:, 1]).mean().item()) <= TOL


def test_ablate_heads_takes_a_metrics_spec(s, model, ablation_data):
    tokens, corrupted, answers = ablation_data
    base = call(s, "analysis.ablate_heads", model=model, clean=tokens, corrupted=corrupted, answers=answers.tolist(), method="mean")
    spec = {"type": "normalized", "of": {"type": "logit_diff", "answers": answers.tolist()}}
    same = call(s, "analysis.ablate_heads", model=model, clean=tokens, corrupted=corrupted, metric=spec, method="mean")
    assert max_diff(same["scores"], base["scores"]) <= TOL and same["normalized"]
    # An unnormalized probability metric, against a plain hook loop.
    target = int(answers[0, 0])
    prob = call(s, "analysis.ablate_heads", model=model, clean=tokens, corrupted=corrupted, method="zero", normalize=False,
                heads=[[0, 2]], metric={"type": "prob", "token": target})

    def zero(z, hook):
        z[:, -1, 2, :] = 0
        return z

    logits = model.run_with_hooks(corrupted, fwd_hooks=[(get_act_name("z", 0), zero)])
    assert abs(prob["scores"][0, 2].item() - logits[:, -1].softmax(-1)[:, target].mean().item()) <= TOL


# ---------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------


def test_bad_input_gives_clear_errors(s, model):
    def err(op, **args):
        with pytest.raises(LensError) as e:
            call(s, op, **args)
        return e.value

    e = err("analysis.ablate_heads", model=model, clean=PROMPTS, corrupted=CORRUPTED, answers=ANSWERS, heads=[[0, 9]])
    assert "unknown head L0H9" in str(e) and "heads 0..3" in str(e)
    e = err("analysis.ablate_heads", model=model, clean=PROMPTS, corrupted=CORRUPTED, answers=ANSWERS, positions=[40])
    assert "position 40 is out of range" in str(e) and "-15..14" in str(e)
    e = err("analysis.ablate_heads", model=model, clean=PROMPTS, corrupted=CORRUPTED[:2], answers=ANSWERS)
    assert e.kind == "shape_mismatch"
    e = err("analysis.ablate_heads", model=model, clean=PROMPTS, corrupted=CORRUPTED, answers=[[" Mary John", " John"]] * 6)
    assert e.kind == "not_single_token" and "Mary John" in str(e)
    e = err("analysis.ablate_heads", model=model, clean=PROMPTS, corrupted=CORRUPTED, answers=ANSWERS[:4])
    assert e.kind == "shape_mismatch"
    e = err("analysis.ablate_heads", model=model, clean=PROMPTS, corrupted=CORRUPTED, answers=ANSWERS, method="knockout")
    assert "valid: ['zero', 'mean', 'resample']" in str(e)
    e = err("analysis.logit_diff_attribution", model=model, cache=model.run_with_cache(PROMPTS[:2])[1], answers=ANSWERS)
    assert e.kind == "shape_mismatch" and "6 answer pairs for a batch of 2" in str(e)
    e = err("analysis.activation_dataset", model=model, prompt_pairs=[["good : bad", "good - gut"]], demarcation=" :")
    assert "not in prompt 'good - gut'" in str(e)
    e = err("analysis.logit_lens", model=model, input=PROMPTS[0], positions=[99])
    assert "position 99 is out of range" in str(e)
    e = err("analysis.logit_lens", model=model, input=PROMPTS[0], source="resid_pre")
    assert "valid: ['ln2_normalized', 'resid_post', 'accumulated_resid']" in str(e)
    e = err("analysis.logit_lens", model=model, input=PROMPTS[0], target=" Mary John")
    assert e.kind == "not_single_token"
    e = err("analysis.detect_head", model=model, input=PROMPTS[0], pattern="name_mover_head")
    assert "previous_token_head" in str(e)
    e = err("analysis.detect_head", model=model, input=PROMPTS[0], pattern=torch.ones(4, 4).tril())
    assert e.kind == "shape_mismatch"
    e = err("analysis.detect_head", model=model, input=PROMPTS[0], pattern="induction_head", heads=[[5, 0]])
    assert "unknown head L5H0" in str(e)
    cache = model.run_with_cache(PROMPTS[:2])[1]
    e = err("analysis.accumulated_resid", cache=cache, layer=7)
    assert "layer 7 is out of range" in str(e)
    e = err("analysis.stack_head_results", cache=cache, pos_slice=[30])
    assert "position 30 is out of range" in str(e)
    e = err("analysis.steering_vector", a=torch.zeros(3, 2, 4), b=torch.zeros(2, 2, 4))
    assert e.kind == "shape_mismatch"
    e = err("analysis.test_prompt", model=model, prompt=PROMPTS[0], answer="")
    assert "non-empty" in str(e)


PADDED_CLEAN = ["When John and Mary went to the shops, John gave the bag to",
                "After Martin and Amy went to the big park by the river, Amy gave a drink to"]
PADDED_CORRUPTED = ["When John and Mary went to the shops, Mary gave the bag to",
                    "After Martin and Amy went to the big park by the river, Martin gave a drink to"]


def _alone_sweep(model, method, answers, positions):
    """Each prompt run alone (no padding), one head's z ablated at that prompt's own position,
    the logit difference at its own last token; averaged over prompts: what a padded batch must give."""
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    total = torch.zeros(n_layers, n_heads)
    for i, (clean, corrupted) in enumerate(zip(PADDED_CLEAN, PADDED_CORRUPTED)):
        ct, xt = model.to_tokens(clean), model.to_tokens(corrupted)
        _, cache = model.run_with_cache(ct)
        p = positions[i] % xt.shape[1]
        for layer in range(n_layers):
            for head in range(n_heads):
                def hook(z, hook, head=head):
                    z[:, p, head, :] = 0 if method == "zero" else cache[hook.name][:, p, head, :]
                    return z
                logits = model.run_with_hooks(xt, fwd_hooks=[(get_act_name("z", layer), hook)])
                total[layer, head] += logits[0, -1, answers[i][0]] - logits[0, -1, answers[i][1]]
    return total / len(PADDED_CLEAN)


@pytest.mark.parametrize("method", ["zero", "resample"])
def test_ablation_on_a_padded_batch_ablates_each_prompts_last_real_token(s, model, method):
    lengths = [model.to_tokens(t).shape[1] for t in PADDED_CLEAN]
    assert lengths[0] != lengths[1], "the prompts must pad: " + str(lengths)
    assert lengths == [model.to_tokens(t).shape[1] for t in PADDED_CORRUPTED]
    answers = [[5, 7], [11, 13]]
    got = call(s, "analysis.ablate_heads", model=model, clean=PADDED_CLEAN, corrupted=PADDED_CORRUPTED, answers=answers,
               method=method, normalize=False)
    expected = _alone_sweep(model, method, answers, [-1, -1])
    assert max_diff(got["scores"], expected) <= 1e-4
    assert got["positions_per_prompt"] == [[lengths[0] - 1], [lengths[1] - 1]]
    # Per-prompt positions: each prompt's own column, also inside the prompt.
    inner = call(s, "analysis.ablate_heads", model=model, clean=PADDED_CLEAN, corrupted=PADDED_CORRUPTED, answers=answers,
                 method=method, normalize=False, positions_per_prompt=[[2], [4]])
    assert max_diff(inner["scores"], _alone_sweep(model, method, answers, [2, 4])) <= 1e-4
    with pytest.raises(LensError, match="one list of positions per prompt"):
        call(s, "analysis.ablate_heads", model=model, clean=PADDED_CLEAN, corrupted=PADDED_CORRUPTED, answers=answers,
             positions_per_prompt=[[2]])
