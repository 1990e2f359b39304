package org.lens4j;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.lens4j.hook.Attached;
import org.lens4j.hook.Backward;
import org.lens4j.hook.Direction;
import org.lens4j.hook.GenerateOptions;
import org.lens4j.hook.Generation;
import org.lens4j.hook.GradientRun;
import org.lens4j.hook.Hook;
import org.lens4j.hook.HookPoint;
import org.lens4j.hook.HookRun;
import org.lens4j.hook.HookRunOptions;
import org.lens4j.internal.Args;
import org.lens4j.internal.Wire;

/**
 * A loaded model (TransformerLens' {@code TransformerBridge}): its config, tokenizer, and runs.
 *
 * <p>Inputs are an {@link Input}: a prompt, a batch of prompts or tokens. Every method that
 * takes one also takes a prompt ({@code String}), a batch of prompts ({@code List<String>}) or
 * tokens ({@link Tensor} of shape [batch, pos]) directly; those overloads only wrap their
 * argument with {@code Input.of}.
 *
 * <p>Hooks ({@code org.lens4j.hook}) are values; running them is this class's job: the hook
 * verbs ({@link #runWithHooks}, {@link #addHook}, {@link #hooks}, {@link #resetHooks},
 * {@link #runWithCache(Input, Names, Hook...)}, {@link #runWithGradients}, {@link #generate})
 * live here.
 *
 * <pre>{@code
 * Model model = lens.load("toy-ioi");
 * List<String> toks = model.toStrTokens("When John and Mary went to the shops, John gave the bag to");
 * int mary = model.toSingleToken(" Mary");
 * Tensor logits = model.logits("When John and Mary went to the shops, John gave the bag to");
 * Run run = model.runWithCache(List.of("a prompt", "another prompt"), Names.only("resid_pre"));
 * }</pre>
 */
public final class Model extends Handle {
    private final String name;
    private final String source;
    private final ModelConfig cfg;
    private final HookRunner hooks = new HookRunner(this);
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

    // The overloads that take what JShell users type: each wraps its argument, refusing a null by name.
    private static Input of(String prompt) {
        return Input.of(notNull(prompt, "prompt"));
    }

    private static Input of(List<String> prompts) {
        return Input.of(notNull(prompts, "prompts"));
    }

    private static Input of(Tensor tokens) {
        return Input.of(notNull(tokens, "tokens"));
    }

    private JsonNode call(String op, Args args) {
        return lens().call(op, args.put("model", ref()).map(), List.of(), null).value();
    }

    // -- tokens -----------------------------------------------------------------------------

    /** Tokens of a prompt or batch, shape [batch, pos], with the model's default BOS handling. */
    public Tensor toTokens(Input input) {
        return toTokens(input, null, null);
    }

    public Tensor toTokens(String prompt) {
        return toTokens(of(prompt));
    }

    public Tensor toTokens(List<String> prompts) {
        return toTokens(of(prompts));
    }

    public Tensor toTokens(Tensor tokens) {
        return toTokens(of(tokens));
    }

    /**
     * @param prependBos null: the model's default
     * @param paddingSide "left", "right" or null (the tokenizer's default)
     */
    public Tensor toTokens(Input input, Boolean prependBos, String paddingSide) {
        return new Tensor(lens(), call("model.to_tokens", Args.of("input", Wire.input(input), "prepend_bos", prependBos,
                "padding_side", paddingSide)));
    }

    public Tensor toTokens(String prompt, Boolean prependBos, String paddingSide) {
        return toTokens(of(prompt), prependBos, paddingSide);
    }

    public Tensor toTokens(List<String> prompts, Boolean prependBos, String paddingSide) {
        return toTokens(of(prompts), prependBos, paddingSide);
    }

    public Tensor toTokens(Tensor tokens, Boolean prependBos, String paddingSide) {
        return toTokens(of(tokens), prependBos, paddingSide);
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
        call("model.to_str_tokens", Args.of("input", Wire.input(of(prompts)))).forEach(row -> out.add(strings(row)));
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
    public int getTokenPosition(String singleToken, Input input) {
        return call("model.get_token_position", Args.of("token", notNull(singleToken, "singleToken"), "input", Wire.input(input))).asInt();
    }

    public int getTokenPosition(String singleToken, String prompt) {
        return getTokenPosition(singleToken, of(prompt));
    }

    public int getTokenPosition(String singleToken, List<String> prompts) {
        return getTokenPosition(singleToken, of(prompts));
    }

    public int getTokenPosition(String singleToken, Tensor tokens) {
        return getTokenPosition(singleToken, of(tokens));
    }

    public int getTokenPosition(int token, Input input) {
        return call("model.get_token_position", Args.of("token", token, "input", Wire.input(input))).asInt();
    }

    public int getTokenPosition(int token, String prompt) {
        return getTokenPosition(token, of(prompt));
    }

    public int getTokenPosition(int token, List<String> prompts) {
        return getTokenPosition(token, of(prompts));
    }

    public int getTokenPosition(int token, Tensor tokens) {
        return getTokenPosition(token, of(tokens));
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
    public Tensor logits(Input input) {
        return new Tensor(lens(), call("model.forward", Args.of("input", Wire.input(input))).get("logits"));
    }

    public Tensor logits(String prompt) {
        return logits(of(prompt));
    }

    public Tensor logits(List<String> prompts) {
        return logits(of(prompts));
    }

    public Tensor logits(Tensor tokens) {
        return logits(of(tokens));
    }

    /** The mean next-token loss over the input. */
    public double loss(Input input) {
        try (Tensor loss = new Tensor(lens(), call("model.forward", Args.of("input", Wire.input(input), "return_type", "loss")).get("loss"))) {
            return loss.item();
        }
    }

    public double loss(String prompt) {
        return loss(of(prompt));
    }

    public double loss(List<String> prompts) {
        return loss(of(prompts));
    }

    public double loss(Tensor tokens) {
        return loss(of(tokens));
    }

    /** A run that caches every activation. */
    public Run runWithCache(Input input) {
        return runWithCache(input, Names.all(), RunOptions.defaults());
    }

    public Run runWithCache(String prompt) {
        return runWithCache(of(prompt));
    }

    public Run runWithCache(List<String> prompts) {
        return runWithCache(of(prompts));
    }

    public Run runWithCache(Tensor tokens) {
        return runWithCache(of(tokens));
    }

    /** A run that caches the activations {@code names} selects. */
    public Run runWithCache(Input input, Names names) {
        return runWithCache(input, names, RunOptions.defaults());
    }

    public Run runWithCache(String prompt, Names names) {
        return runWithCache(of(prompt), names);
    }

    public Run runWithCache(List<String> prompts, Names names) {
        return runWithCache(of(prompts), names);
    }

    public Run runWithCache(Tensor tokens, Names names) {
        return runWithCache(of(tokens), names);
    }

    public Run runWithCache(Input input, Names names, RunOptions options) {
        Args args = Args.of("input", Wire.input(input), "names", names.isAll() ? null : names.resolve(hookNames()),
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

    public Run runWithCache(String prompt, Names names, RunOptions options) {
        return runWithCache(of(prompt), names, options);
    }

    public Run runWithCache(List<String> prompts, Names names, RunOptions options) {
        return runWithCache(of(prompts), names, options);
    }

    public Run runWithCache(Tensor tokens, Names names, RunOptions options) {
        return runWithCache(of(tokens), names, options);
    }

    // -- hooks (values from org.lens4j.hook, run here) ---------------------------------------------

    /** The hook names of this model that {@code names} selects (explicit names come back as given, for the run to check). */
    public List<String> hookNames(Names names) {
        return names.isAll() ? hookNames() : names.resolve(hookNames());
    }

    /**
     * Check hooks against the model without running anything: the hook points they reach. An
     * unknown name fails here, with the nearest valid names.
     *
     * <pre>{@code
     * List<HookPoint> points = model.resolveHooks(Hook.at(Names.glob("blocks.*.attn.hook_z")).zero());
     * }</pre>
     */
    public List<HookPoint> resolveHooks(Hook... hooks) {
        return this.hooks.resolve(hookList(hooks));
    }

    /**
     * The logits of a run with hooks on; the hooks are removed afterwards, also when the run fails.
     *
     * <pre>{@code
     * Tensor ablated = model.runWithHooks(prompt, Hook.at(ActName.of("z", 9)).positions(-1).heads(9).zero());
     * }</pre>
     */
    public Tensor runWithHooks(Input input, Hook... hooks) {
        HookRun run = runWithHooks(input, HookRunOptions.defaults(), hooks);
        run.captures().close();
        return run.logits();
    }

    public Tensor runWithHooks(String prompt, Hook... hooks) {
        return runWithHooks(of(prompt), hooks);
    }

    public Tensor runWithHooks(List<String> prompts, Hook... hooks) {
        return runWithHooks(of(prompts), hooks);
    }

    public Tensor runWithHooks(Tensor tokens, Hook... hooks) {
        return runWithHooks(of(tokens), hooks);
    }

    /** A run with hooks that returns logits, loss, both or neither, and what capture actions stored; may stop at a layer. */
    public HookRun runWithHooks(Input input, HookRunOptions options, Hook... hooks) {
        return this.hooks.runWithHooks(notNull(input, "input"), options, hookList(hooks));
    }

    public HookRun runWithHooks(String prompt, HookRunOptions options, Hook... hooks) {
        return runWithHooks(of(prompt), options, hooks);
    }

    public HookRun runWithHooks(List<String> prompts, HookRunOptions options, Hook... hooks) {
        return runWithHooks(of(prompts), options, hooks);
    }

    public HookRun runWithHooks(Tensor tokens, HookRunOptions options, Hook... hooks) {
        return runWithHooks(of(tokens), options, hooks);
    }

    /** Attach a hook to the model until the returned set is closed or {@link #resetHooks()} runs. */
    public HookSet addHook(Hook hook) {
        return hooks.add(false, hookList(hook));
    }

    /** Attach a hook; a permanent one survives {@link #resetHooks()} (TransformerLens' {@code add_perma_hook}). */
    public HookSet addHook(Hook hook, boolean permanent) {
        return hooks.add(permanent, hookList(hook));
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
        return this.hooks.add(false, hookList(hooks));
    }

    /** Remove the non-permanent hooks added to this model (both directions); returns how many. */
    public int resetHooks() {
        return hooks.reset(false, Direction.BOTH);
    }

    /** Remove added hooks of one direction (or {@link Direction#BOTH}), permanent ones too with {@code includingPermanent}. */
    public int resetHooks(boolean includingPermanent, Direction direction) {
        return hooks.reset(includingPermanent, direction);
    }

    /**
     * The hook points that carry added hooks now, by name, with how many; empty when none is left.
     *
     * <pre>{@code
     * Map<String, Attached> on = model.attachedHooks();   // {} after resetHooks(true, Direction.BOTH)
     * }</pre>
     */
    public Map<String, Attached> attachedHooks() {
        return hooks.attached();
    }

    /** A cache taken while these hooks (and any added ones) are on. */
    public Run runWithCache(Input input, Names names, Hook... hooks) {
        return runWithCache(input, names, RunOptions.defaults(), hooks);
    }

    public Run runWithCache(String prompt, Names names, Hook... hooks) {
        return runWithCache(of(prompt), names, hooks);
    }

    public Run runWithCache(List<String> prompts, Names names, Hook... hooks) {
        return runWithCache(of(prompts), names, hooks);
    }

    public Run runWithCache(Tensor tokens, Names names, Hook... hooks) {
        return runWithCache(of(tokens), names, hooks);
    }

    public Run runWithCache(Input input, Names names, RunOptions options, Hook... hooks) {
        return this.hooks.runWithCache(notNull(input, "input"), names, options, hookList(hooks));
    }

    public Run runWithCache(String prompt, Names names, RunOptions options, Hook... hooks) {
        return runWithCache(of(prompt), names, options, hooks);
    }

    public Run runWithCache(List<String> prompts, Names names, RunOptions options, Hook... hooks) {
        return runWithCache(of(prompts), names, options, hooks);
    }

    public Run runWithCache(Tensor tokens, Names names, RunOptions options, Hook... hooks) {
        return runWithCache(of(tokens), names, options, hooks);
    }

    /**
     * A cache with gradients: forward with the hooks on, backward from {@code backward} (the loss, a
     * logit difference, a Java metric), {@code <name>_grad} entries beside the activations. Backward
     * hooks ({@link Hook#backward()}) fire here. Gradients are recorded only during this call; no
     * parameter gradient is left behind.
     */
    public GradientRun runWithGradients(Input input, Names names, Backward backward, Hook... hooks) {
        return this.hooks.runWithGradients(notNull(input, "input"), names, backward, hookList(hooks));
    }

    public GradientRun runWithGradients(String prompt, Names names, Backward backward, Hook... hooks) {
        return runWithGradients(of(prompt), names, backward, hooks);
    }

    public GradientRun runWithGradients(List<String> prompts, Names names, Backward backward, Hook... hooks) {
        return runWithGradients(of(prompts), names, backward, hooks);
    }

    public GradientRun runWithGradients(Tensor tokens, Names names, Backward backward, Hook... hooks) {
        return runWithGradients(of(tokens), names, backward, hooks);
    }

    /** Generate text (greedy or sampled) with the options' hooks on; see {@link GenerateOptions}. */
    public Generation generate(Input input, GenerateOptions options) {
        return hooks.generate(notNull(input, "input"), notNull(options, "options"));
    }

    public Generation generate(String prompt, GenerateOptions options) {
        return generate(of(prompt), options);
    }

    public Generation generate(List<String> prompts, GenerateOptions options) {
        return generate(of(prompts), options);
    }

    public Generation generate(Tensor tokens, GenerateOptions options) {
        return generate(of(tokens), options);
    }

    /**
     * Greedy generation of up to {@code maxNewTokens} tokens ({@link GenerateOptions#greedy}), stopping at
     * end-of-text. TransformerLens' {@code generate} samples by default; for that pass
     * {@link GenerateOptions#sampling}.
     */
    public Generation generate(Input input, int maxNewTokens) {
        return generate(input, GenerateOptions.greedy(maxNewTokens));
    }

    public Generation generate(String prompt, int maxNewTokens) {
        return generate(of(prompt), maxNewTokens);
    }

    public Generation generate(List<String> prompts, int maxNewTokens) {
        return generate(of(prompts), maxNewTokens);
    }

    public Generation generate(Tensor tokens, int maxNewTokens) {
        return generate(of(tokens), maxNewTokens);
    }

    /** The hooks of a verb as a list; a null array is refused by name (a null hook, by the encoder). */
    private static List<Hook> hookList(Hook... hooks) {
        return java.util.Arrays.asList(notNull(hooks, "hooks"));
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
