package org.lens4j;

import org.lens4j.internal.Args;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import org.lens4j.hook.Backward;
import org.lens4j.hook.Direction;
import org.lens4j.hook.GenerateOptions;
import org.lens4j.hook.Generation;
import org.lens4j.hook.GradientRun;
import org.lens4j.hook.Hook;
import org.lens4j.hook.HookRun;
import org.lens4j.hook.HookRunOptions;
import org.lens4j.hook.HookSet;
import org.lens4j.hook.HookTarget;
import org.lens4j.hook.Hooks;

/**
 * A loaded model (TransformerLens' {@code TransformerBridge}): its config, tokenizer, and runs.
 *
 * <p>Inputs are a prompt ({@code String}), a batch of prompts ({@code List<String>}) or
 * tokens ({@link Tensor} of shape [batch, pos]).
 *
 * <pre>{@code
 * Model model = lens.load("toy-ioi");
 * List<String> toks = model.toStrTokens("When John and Mary went to the shops, John gave the bag to");
 * int mary = model.toSingleToken(" Mary");
 * Tensor logits = model.logits("When John and Mary went to the shops, John gave the bag to");
 * Run run = model.runWithCache(List.of("a prompt", "another prompt"), Names.only("resid_pre"));
 * }</pre>
 */
public final class Model extends Handle implements HookTarget {
    private final String name;
    private final String source;
    private final ModelConfig cfg;
    private volatile List<String> hookNames;

    Model(Lens lens, JsonNode node) {
        super(lens, node.get("$h").asLong());
        this.name = node.path("name").asText();
        this.source = node.path("source").asText();
        this.cfg = ModelConfig.fromJson(node.path("cfg"));
    }

    @Override
    String what() {
        return "model " + name;
    }

    public String name() {
        return name;
    }

    /** Where it came from: "bundled", "local", "hub" or "native". */
    public String source() {
        return source;
    }

    public ModelConfig cfg() {
        return cfg;
    }

    /** An input as an op argument: the prompt(s) as they are, tokens as a handle reference. */
    static Object input(Object input) {
        if (input instanceof Input typed) {
            return org.lens4j.internal.Wire.input(typed);
        }
        if (input instanceof String) {
            return input;
        }
        if (input instanceof Tensor t) {
            return t.ref();
        }
        if (input instanceof List<?> list) {
            for (Object o : list) {
                if (!(o instanceof String)) {
                    throw new IllegalArgumentException("a batch of prompts must be a List<String>; found a "
                            + (o == null ? "null" : o.getClass().getSimpleName()));
                }
            }
            return list;
        }
        throw new IllegalArgumentException("input must be a prompt (String), prompts (List<String>) or tokens (Tensor); got "
                + (input == null ? "null" : input.getClass().getSimpleName()));
    }

    private JsonNode call(String op, Args args) {
        return lens().call(op, args.put("model", ref()).map(), List.of(), null).value();
    }

    // -- tokens -----------------------------------------------------------------------------

    /** Tokens of a prompt or batch, shape [batch, pos], with the model's default BOS handling. */
    public Tensor toTokens(Object input) {
        return toTokens(input, null, null);
    }

    /**
     * @param prependBos null: the model's default
     * @param paddingSide "left", "right" or null (the tokenizer's default)
     */
    public Tensor toTokens(Object input, Boolean prependBos, String paddingSide) {
        return new Tensor(lens(), call("model.to_tokens", Args.of("input", input(input), "prepend_bos", prependBos,
                "padding_side", paddingSide)));
    }

    /** The token strings of one prompt, BOS included as the model prepends it. */
    public List<String> toStrTokens(String prompt) {
        return strings(call("model.to_str_tokens", Args.of("input", notNull(prompt, "prompt"))));
    }

    /** The token strings of one prompt, with a BOS token first or not ({@code model.to_str_tokens(text, prepend_bos=...)}). */
    public List<String> toStrTokens(String prompt, boolean prependBos) {
        return strings(call("model.to_str_tokens", Args.of("input", notNull(prompt, "prompt"), "prepend_bos", prependBos)));
    }

    /** The token strings of tokens of shape [pos] or [1, pos]. */
    public List<String> toStrTokens(Tensor tokens) {
        notNull(tokens, "tokens");
        JsonNode v = call("model.to_str_tokens", Args.of("input", tokens.ref()));
        return strings(v.isArray() && v.size() > 0 && v.get(0).isArray() ? v.get(0) : v);
    }

    /** The token strings of each prompt of a batch. */
    public List<List<String>> toStrTokensBatch(List<String> prompts) {
        List<List<String>> out = new ArrayList<>();
        call("model.to_str_tokens", Args.of("input", input(notNull(prompts, "prompts")))).forEach(row -> out.add(strings(row)));
        return out;
    }

    /** Tokens back to text ({@code model.to_string}). */
    public String toString(Tensor tokens) {
        return call("model.to_string", Args.of("tokens", notNull(tokens, "tokens").ref())).asText();
    }

    /** One token id as its text ({@code model.to_string([id])}): {@code model.toString(model.toSingleToken(" Mary"))} is " Mary". */
    public String toString(long id) {
        return toString(new long[] {id});
    }

    /** Token ids as text ({@code model.to_string(ids)}); each id must be in [0, d_vocab). */
    public String toString(long... ids) {
        notNull(ids, "ids");
        List<Long> list = new ArrayList<>(ids.length);
        for (long id : ids) {
            if (id < 0 || id >= cfg.dVocab()) {
                throw new IllegalArgumentException("token id " + id + " is out of range: valid ids are 0.." + (cfg.dVocab() - 1));
            }
            list.add(id);
        }
        return call("model.to_string", Args.of("tokens", list)).asText();
    }

    /** The argument itself, or a NullPointerException that names it (a null must not travel to Python). */
    static <T> T notNull(T value, String what) {
        if (value == null) {
            throw new NullPointerException(what + " must not be null");
        }
        return value;
    }

    /** The id of a text that is exactly one token (mind the leading space: " Mary"); otherwise an error that shows its tokens. */
    public int toSingleToken(String text) {
        return call("model.to_single_token", Args.of("text", notNull(text, "text"))).asInt();
    }

    /** Position of the first occurrence of a one-token text in a prompt (with the model's BOS). */
    public int getTokenPosition(String singleToken, Object input) {
        return call("model.get_token_position", Args.of("token", notNull(singleToken, "singleToken"), "input", input(input))).asInt();
    }

    public int getTokenPosition(int token, Object input) {
        return call("model.get_token_position", Args.of("token", token, "input", input(input))).asInt();
    }

    /** The unembedding directions of one-token texts, shape [n, d_model] ([d_model] for one). */
    public Tensor tokensToResidualDirections(String... tokens) {
        for (String t : notNull(tokens, "tokens")) {
            notNull(t, "a token");
        }
        Object arg = tokens.length == 1 ? tokens[0] : List.of(tokens);
        return new Tensor(lens(), call("model.tokens_to_residual_directions", Args.of("tokens", arg)));
    }

    private static List<String> strings(JsonNode array) {
        List<String> out = new ArrayList<>(array.size());
        array.forEach(n -> out.add(n.asText()));
        return out;
    }

    // -- runs ---------------------------------------------------------------------------------

    /** Every hook name of the model, sorted (fetched once). */
    public List<String> hookNames() {
        List<String> names = hookNames;
        if (names == null) {
            names = strings(call("model.hook_names", Args.of()));
            hookNames = names;
        }
        return names;
    }

    /** The logits, shape [batch, pos, d_vocab]. */
    public Tensor logits(Object input) {
        return new Tensor(lens(), call("model.forward", Args.of("input", input(input))).get("logits"));
    }

    /** The mean next-token loss over the input. */
    public double loss(Object input) {
        try (Tensor loss = new Tensor(lens(), call("model.forward", Args.of("input", input(input), "return_type", "loss")).get("loss"))) {
            return loss.item();
        }
    }

    /** A run that caches every activation. */
    public Run runWithCache(Object input) {
        return runWithCache(input, Names.all(), RunOptions.defaults());
    }

    public Run runWithCache(Object input, Names names) {
        return runWithCache(input, names, RunOptions.defaults());
    }

    public Run runWithCache(Object input, Names names, RunOptions options) {
        Args args = Args.of("input", input(input), "names", names.isAll() ? null : names.resolve(hookNames()),
                "return_type", options.returnType().wire(), "prepend_bos", options.prependBos(),
                "padding_side", options.paddingSide(), "remove_batch_dim", options.removeBatchDim(),
                "stop_at_layer", options.stopAtLayer());
        JsonNode v = call("model.run_with_cache", args);
        Tensor logits = v.has("logits") ? new Tensor(lens(), v.get("logits")) : null;
        Double loss = null;
        if (v.has("loss")) {
            try (Tensor l = new Tensor(lens(), v.get("loss"))) {
                loss = l.item();
            }
        }
        return new Run(logits, loss, new ActivationCache(lens(), v.get("cache")));
    }

    // -- hooks (org.lens4j.hook) ------------------------------------------------------------------

    /** The hook names of this model that {@code names} selects (explicit names come back as given, for the run to check). */
    @Override
    public List<String> hookNames(Names names) {
        return names.isAll() ? hookNames() : names.resolve(hookNames());
    }

    /**
     * The logits of a run with hooks on; the hooks are removed afterwards, also when the run fails.
     *
     * <pre>{@code
     * Tensor ablated = model.runWithHooks(prompt, Hook.at(ActName.of("z", 9)).positions(-1).heads(9).zero());
     * }</pre>
     */
    public Tensor runWithHooks(Object input, Hook... hooks) {
        return Hooks.runWithHooks(this, input, hooks);
    }

    /** A run with hooks that returns logits, loss, both or neither, and what capture actions stored; may stop at a layer. */
    public HookRun runWithHooks(Object input, HookRunOptions options, Hook... hooks) {
        return Hooks.runWithHooks(this, input, options, hooks);
    }

    /** Attach a hook to the model until the returned set is closed or {@link #resetHooks()} runs. */
    public HookSet addHook(Hook hook) {
        return Hooks.add(this, false, hook);
    }

    /** Attach a hook; a permanent one survives {@link #resetHooks()} (TransformerLens' {@code add_perma_hook}). */
    public HookSet addHook(Hook hook, boolean permanent) {
        return Hooks.add(this, permanent, hook);
    }

    /**
     * A hooks scope: the hooks are on until the returned set closes, even when the block fails.
     *
     * <pre>{@code
     * try (HookSet on = model.hooks(Hook.at(ActName.of("z", 9)).positions(-1).heads(9).zero())) {
     *     Run ablated = model.runWithCache(prompt);
     * }
     * }</pre>
     */
    public HookSet hooks(Hook... hooks) {
        return Hooks.add(this, false, hooks);
    }

    /** Remove the non-permanent hooks added to this model (both directions); returns how many. */
    public int resetHooks() {
        return Hooks.reset(this, false, Direction.BOTH);
    }

    /** Remove added hooks of one direction (or {@link Direction#BOTH}), permanent ones too with {@code includingPermanent}. */
    public int resetHooks(boolean includingPermanent, Direction direction) {
        return Hooks.reset(this, includingPermanent, direction);
    }

    /** A cache taken while these hooks (and any added ones) are on. */
    public Run runWithCache(Object input, Names names, Hook... hooks) {
        return Hooks.runWithCache(this, input, names, RunOptions.defaults(), hooks);
    }

    public Run runWithCache(Object input, Names names, RunOptions options, Hook... hooks) {
        return Hooks.runWithCache(this, input, names, options, hooks);
    }

    /**
     * A cache with gradients: forward with the hooks on, backward from {@code backward} (the loss, a
     * logit difference, a Java metric), {@code <name>_grad} entries beside the activations.
     */
    public GradientRun runWithGradients(Object input, Names names, Backward backward, Hook... hooks) {
        return Hooks.runWithGradients(this, input, names, backward, hooks);
    }

    /** Generate text (greedy or sampled) with the options' hooks on; see {@link GenerateOptions}. */
    public Generation generate(Object input, GenerateOptions options) {
        return Hooks.generate(this, input, notNull(options, "options"));
    }

    /**
     * Greedy generation of up to {@code maxNewTokens} tokens ({@link GenerateOptions#greedy}), stopping at
     * end-of-text. TransformerLens' {@code generate} samples by default; for that pass
     * {@link GenerateOptions#sampling}.
     */
    public Generation generate(Object input, int maxNewTokens) {
        return generate(input, GenerateOptions.greedy(maxNewTokens));
    }

    // -- weights ------------------------------------------------------------------------------

    /**
     * A weight as TransformerLens names it: W_U, b_U, W_E, W_pos, and the per-layer W_Q, W_K,
     * W_V, W_O, b_Q, b_K, b_V, b_O, W_in, W_out, b_in, b_out stacked over layers.
     */
    public Tensor weight(String weightName) {
        return new Tensor(lens(), call("model.weight", Args.of("name", notNull(weightName, "weightName"))));
    }

    /** One layer's slice of a per-layer weight, such as {@code weight("W_Q", 3)}: [n_heads, d_model, d_head]. */
    public Tensor weight(String weightName, int layer) {
        return new Tensor(lens(), call("model.weight", Args.of("name", weightName, "layer", layer)));
    }

    @Override
    public String toString() {
        return "Model[" + name + ": " + cfg.nLayers() + " layers, " + cfg.nHeads() + " heads, d_model " + cfg.dModel()
                + ", d_vocab " + cfg.dVocab() + ", " + cfg.device() + (isClosed() ? ", closed" : "") + "]";
    }
}
