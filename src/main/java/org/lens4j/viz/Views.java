package org.lens4j.viz;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import org.lens4j.Lens;
import org.lens4j.Model;
import org.lens4j.Tensor;

/**
 * circuitsvis views as self-contained pages, rendered by the real circuitsvis package in the
 * worker (its {@code local_src} form: the script is inlined, nothing is fetched). Data comes as
 * {@link Tensor}s (which stay in Python) or Java arrays (with the {@link Lens} to render with);
 * tokens as lists of strings, one per position. Token text is always shown as text: a token
 * such as {@code </script>} or {@code <img onerror=...>} is escaped, never run.
 *
 * <pre>{@code
 * try (Lens lens = Lens.start(); Model model = lens.load("toy-induction")) {
 *     String prompt = "The cat sat. The cat sat.";
 *     List<String> tokens = model.toStrTokens(prompt);
 *     try (Run run = model.runWithCache(prompt)) {
 *         Views.attentionHeads(run.cache().get("pattern", 1), tokens).save(Path.of("heads.html"));
 *     }
 * }
 * }</pre>
 *
 * <p>Option arguments may be null for circuitsvis' defaults. Shapes are checked here first:
 * a mismatch between the tokens and the data is an {@link IllegalArgumentException} naming
 * both; what only Python can check comes back as an {@link org.lens4j.InvalidInputException}.
 */
public final class Views {
    private Views() {
    }

    // -- attention_heads --------------------------------------------------------------------

    /** Thumbnails of every head's pattern, one zoomed: {@code attention [heads, dest, src]} or a cache's {@code [1, heads, dest, src]}. */
    public static Html attentionHeads(Tensor attention, List<String> tokens) {
        return attentionHeads(attention, tokens, null);
    }

    public static Html attentionHeads(Tensor attention, List<String> tokens, AttentionOptions options) {
        List<String> toks = ViewCall.strings(tokens, "tokens");
        long[] shape = ViewCall.shape(attention, "attention");
        ViewCall.attentionShape(shape, 3, toks.size());
        return attentionHeads(new ViewCall(attention.lens()).tensor("attention", attention), toks, shape[shape.length - 3], options);
    }

    /** Thumbnails of every head's pattern: {@code attention[head][dest][src]}. */
    public static Html attentionHeads(Lens lens, float[][][] attention, List<String> tokens) {
        return attentionHeads(lens, attention, tokens, null);
    }

    public static Html attentionHeads(Lens lens, float[][][] attention, List<String> tokens, AttentionOptions options) {
        List<String> toks = ViewCall.strings(tokens, "tokens");
        long[] shape = Nd.shape(attention, "attention");
        ViewCall.attentionShape(shape, 3, toks.size());
        return attentionHeads(new ViewCall(lens).array("attention", attention, 3), toks, shape[0], options);
    }

    private static Html attentionHeads(ViewCall call, List<String> tokens, long heads, AttentionOptions options) {
        AttentionOptions o = options == null ? AttentionOptions.defaults() : options;
        if (o.showAxisLabels() != null) {
            throw new IllegalArgumentException("showAxisLabels applies to attentionPattern only");
        }
        return attention(call, tokens, o)
                .put("attention_head_names", ViewCall.strings(o.headNames(), "headNames", heads, "attention's head dim"))
                .render("viz.attention_heads");
    }

    private static ViewCall attention(ViewCall call, List<String> tokens, AttentionOptions o) {
        return call.put("tokens", tokens).put("title", o.title())
                .put("min_value", o.minValue()).put("max_value", o.maxValue())
                .put("negative_color", o.negativeColor()).put("positive_color", o.positiveColor())
                .put("mask_upper_tri", o.maskUpperTri());
    }

    // -- attention_patterns -----------------------------------------------------------------

    /** Tokens coloured by attention, per head (the seeds' view): {@code attention [heads, dest, src]} or {@code [1, heads, dest, src]}. */
    public static Html attentionPatterns(Tensor attention, List<String> tokens) {
        return attentionPatterns(attention, tokens, null);
    }

    public static Html attentionPatterns(Tensor attention, List<String> tokens, String title) {
        List<String> toks = ViewCall.strings(tokens, "tokens");
        ViewCall.attentionShape(ViewCall.shape(attention, "attention"), 3, toks.size());
        return new ViewCall(attention.lens()).tensor("attention", attention).put("tokens", toks).put("title", title)
                .render("viz.attention_patterns");
    }

    /** Tokens coloured by attention, per head: {@code attention[head][dest][src]}, e.g. chosen heads averaged over a batch. */
    public static Html attentionPatterns(Lens lens, float[][][] attention, List<String> tokens) {
        return attentionPatterns(lens, attention, tokens, null);
    }

    public static Html attentionPatterns(Lens lens, float[][][] attention, List<String> tokens, String title) {
        List<String> toks = ViewCall.strings(tokens, "tokens");
        ViewCall.attentionShape(Nd.shape(attention, "attention"), 3, toks.size());
        return new ViewCall(lens).array("attention", attention, 3).put("tokens", toks).put("title", title)
                .render("viz.attention_patterns");
    }

    // -- attention_pattern ------------------------------------------------------------------

    /** One head's pattern as a heatmap: {@code attention [dest, src]} (or {@code [1, dest, src]}). */
    public static Html attentionPattern(Tensor attention, List<String> tokens) {
        return attentionPattern(attention, tokens, null);
    }

    public static Html attentionPattern(Tensor attention, List<String> tokens, AttentionOptions options) {
        List<String> toks = ViewCall.strings(tokens, "tokens");
        ViewCall.attentionShape(ViewCall.shape(attention, "attention"), 2, toks.size());
        return attentionPattern(new ViewCall(attention.lens()).tensor("attention", attention), toks, options);
    }

    /** One head's pattern as a heatmap: {@code attention[dest][src]}. */
    public static Html attentionPattern(Lens lens, float[][] attention, List<String> tokens) {
        return attentionPattern(lens, attention, tokens, null);
    }

    public static Html attentionPattern(Lens lens, float[][] attention, List<String> tokens, AttentionOptions options) {
        List<String> toks = ViewCall.strings(tokens, "tokens");
        ViewCall.attentionShape(Nd.shape(attention, "attention"), 2, toks.size());
        return attentionPattern(new ViewCall(lens).array("attention", attention, 2), toks, options);
    }

    private static Html attentionPattern(ViewCall call, List<String> tokens, AttentionOptions options) {
        AttentionOptions o = options == null ? AttentionOptions.defaults() : options;
        if (o.headNames() != null) {
            throw new IllegalArgumentException("headNames applies to attentionHeads only (attentionPattern shows one head)");
        }
        return attention(call, tokens, o).put("show_axis_labels", o.showAxisLabels()).render("viz.attention_pattern");
    }

    // -- colored_tokens ---------------------------------------------------------------------

    /** Tokens coloured by one value each: {@code values [tokens]}. */
    public static Html coloredTokens(Tensor values, List<String> tokens) {
        return coloredTokens(values, tokens, null);
    }

    public static Html coloredTokens(Tensor values, List<String> tokens, ColorOptions options) {
        List<String> toks = ViewCall.strings(tokens, "tokens");
        long[] shape = ViewCall.shape(values, "values");
        ViewCall.dims(shape, "values", "[tokens]", 1);
        ViewCall.rows(shape, 0, toks.size(), "values", "the number of tokens");
        return coloredTokens(new ViewCall(values.lens()).tensor("values", values), toks, options);
    }

    /** Tokens coloured by one value each. */
    public static Html coloredTokens(Lens lens, float[] values, List<String> tokens) {
        return coloredTokens(lens, values, tokens, null);
    }

    public static Html coloredTokens(Lens lens, float[] values, List<String> tokens, ColorOptions options) {
        return coloredTokensArray(lens, values, tokens, options);
    }

    public static Html coloredTokens(Lens lens, double[] values, List<String> tokens) {
        return coloredTokens(lens, values, tokens, null);
    }

    public static Html coloredTokens(Lens lens, double[] values, List<String> tokens, ColorOptions options) {
        return coloredTokensArray(lens, values, tokens, options);
    }

    private static Html coloredTokensArray(Lens lens, Object values, List<String> tokens, ColorOptions options) {
        List<String> toks = ViewCall.strings(tokens, "tokens");
        ViewCall.rows(Nd.shape(values, "values"), 0, toks.size(), "values", "the number of tokens");
        return coloredTokens(new ViewCall(lens).array("values", values, 1), toks, options);
    }

    private static Html coloredTokens(ViewCall call, List<String> tokens, ColorOptions options) {
        ColorOptions o = options == null ? ColorOptions.defaults() : options;
        return call.put("tokens", tokens).put("title", o.title())
                .put("min_value", o.minValue()).put("max_value", o.maxValue())
                .put("negative_color", o.negativeColor()).put("positive_color", o.positiveColor())
                .render("viz.colored_tokens");
    }

    // -- colored_tokens_multi ---------------------------------------------------------------

    /**
     * Tokens coloured by one of K values, picked with a button per label: {@code values [tokens, K]}.
     *
     * @param labels one per value column, or null for the indices
     * @param title the page title, or null
     */
    public static Html coloredTokensMulti(Tensor values, List<String> tokens, List<String> labels, String title) {
        List<String> toks = ViewCall.strings(tokens, "tokens");
        long[] shape = ViewCall.shape(values, "values");
        ViewCall.dims(shape, "values", "[tokens, K]", 2);
        return coloredTokensMulti(new ViewCall(values.lens()).tensor("values", values), shape, toks, labels, title);
    }

    public static Html coloredTokensMulti(Lens lens, float[][] values, List<String> tokens, List<String> labels, String title) {
        return coloredTokensMultiArray(lens, values, tokens, labels, title);
    }

    public static Html coloredTokensMulti(Lens lens, double[][] values, List<String> tokens, List<String> labels, String title) {
        return coloredTokensMultiArray(lens, values, tokens, labels, title);
    }

    private static Html coloredTokensMultiArray(Lens lens, Object values, List<String> tokens, List<String> labels, String title) {
        List<String> toks = ViewCall.strings(tokens, "tokens");
        long[] shape = Nd.shape(values, "values");
        return coloredTokensMulti(new ViewCall(lens).array("values", values, 2), shape, toks, labels, title);
    }

    private static Html coloredTokensMulti(ViewCall call, long[] shape, List<String> tokens, List<String> labels, String title) {
        ViewCall.rows(shape, 0, tokens.size(), "values", "the number of tokens");
        return call.put("tokens", tokens).put("labels", ViewCall.strings(labels, "labels", shape[1], "values' second dim (K)"))
                .put("title", title).render("viz.colored_tokens_multi");
    }

    // -- text_neuron_activations ------------------------------------------------------------

    /** Activations per token with layer and neuron pickers: {@code activations [tokens, layers, neurons]}. */
    public static Html textNeuronActivations(Tensor activations, List<String> tokens, NeuronOptions options) {
        List<String> toks = ViewCall.strings(tokens, "tokens");
        long[] shape = ViewCall.shape(activations, "activations");
        ViewCall.dims(shape, "activations", "[tokens, layers, neurons]", 3);
        ViewCall.rows(shape, 0, toks.size(), "activations", "the number of tokens");
        return neurons(new ViewCall(activations.lens()).tensor("activations", activations).put("tokens", toks), shape, options);
    }

    /** Activations per token: {@code activations[token][layer][neuron]}. */
    public static Html textNeuronActivations(Lens lens, float[][][] activations, List<String> tokens, NeuronOptions options) {
        List<String> toks = ViewCall.strings(tokens, "tokens");
        long[] shape = Nd.shape(activations, "activations");
        ViewCall.rows(shape, 0, toks.size(), "activations", "the number of tokens");
        return neurons(new ViewCall(lens).array("activations", activations, 3).put("tokens", toks), shape, options);
    }

    /** Several samples, picked in the view: sample i's {@code activations.get(i)[token][layer][neuron]} with {@code tokens.get(i)}. */
    public static Html textNeuronActivations(Lens lens, List<float[][][]> activations, List<List<String>> tokens, NeuronOptions options) {
        ViewCall call = new ViewCall(lens);
        List<List<String>> samples = samples(tokens, activations == null ? -1 : activations.size(), "activations");
        List<Object> refs = new ArrayList<>();
        long[] first = null;
        for (int i = 0; i < samples.size(); i++) {
            String name = "activations[" + i + "]";
            long[] shape = Nd.shape(activations.get(i), name);
            ViewCall.rows(shape, 0, samples.get(i).size(), name, "the number of tokens of sample " + i);
            if (first != null && (shape[1] != first[1] || shape[2] != first[2])) {
                throw new IllegalArgumentException("all samples need the same [layers, neurons]: activations[0] has shape "
                        + Arrays.toString(first) + ", " + name + " has " + Arrays.toString(shape));
            }
            first = first == null ? shape : first;
            refs.add(call.blob(Nd.floats(activations.get(i), name, 3)));
        }
        return neurons(call.put("activations", refs).put("tokens", samples), first, options);
    }

    private static Html neurons(ViewCall call, long[] shape, NeuronOptions options) {
        NeuronOptions o = options == null ? NeuronOptions.defaults() : options;
        return call.put("title", o.title())
                .put("first_dimension_name", o.firstDimensionName()).put("second_dimension_name", o.secondDimensionName())
                .put("first_dimension_labels", ViewCall.strings(o.firstDimensionLabels(), "firstDimensionLabels", shape[1], "activations' layer dim"))
                .put("second_dimension_labels", ViewCall.strings(o.secondDimensionLabels(), "secondDimensionLabels", shape[2], "activations' neuron dim"))
                .render("viz.text_neuron_activations");
    }

    // -- topk_tokens ------------------------------------------------------------------------

    /** The top and bottom k tokens per neuron of one sample: {@code activations [layers, tokens, neurons]}. */
    public static Html topkTokens(Tensor activations, List<String> tokens, TopkOptions options) {
        return topkTokens(List.of(Objects.requireNonNull(activations, "activations")), List.of(ViewCall.strings(tokens, "tokens")), options);
    }

    /** The top and bottom k tokens per neuron over samples: {@code activations.get(i) [layers, tokens_i, neurons]}. */
    public static Html topkTokens(List<Tensor> activations, List<List<String>> tokens, TopkOptions options) {
        List<List<String>> samples = samples(tokens, activations == null ? -1 : activations.size(), "activations");
        ViewCall call = new ViewCall(Objects.requireNonNull(activations.get(0), "activations[0]").lens());
        List<Object> refs = new ArrayList<>();
        List<long[]> shapes = new ArrayList<>();
        for (int i = 0; i < samples.size(); i++) {
            String name = "activations[" + i + "]";
            shapes.add(ViewCall.shape(activations.get(i), name));
            refs.add(call.ref(activations.get(i), name));
        }
        return topk(call, refs, shapes, samples, options);
    }

    /** The top and bottom k tokens per neuron of one sample: {@code activations[layer][token][neuron]}. */
    public static Html topkTokens(Lens lens, float[][][] activations, List<String> tokens, TopkOptions options) {
        return topkTokens(lens, Collections.singletonList(activations), List.of(ViewCall.strings(tokens, "tokens")), options);
    }

    /** The top and bottom k tokens per neuron over samples: {@code activations.get(i)[layer][token][neuron]}. */
    public static Html topkTokens(Lens lens, List<float[][][]> activations, List<List<String>> tokens, TopkOptions options) {
        List<List<String>> samples = samples(tokens, activations == null ? -1 : activations.size(), "activations");
        ViewCall call = new ViewCall(lens);
        List<Object> refs = new ArrayList<>();
        List<long[]> shapes = new ArrayList<>();
        for (int i = 0; i < samples.size(); i++) {
            String name = "activations[" + i + "]";
            shapes.add(Nd.shape(activations.get(i), name));
            refs.add(call.blob(Nd.floats(activations.get(i), name, 3)));
        }
        return topk(call, refs, shapes, samples, options);
    }

    private static Html topk(ViewCall call, List<Object> refs, List<long[]> shapes, List<List<String>> samples, TopkOptions options) {
        for (int i = 0; i < shapes.size(); i++) {
            String name = "activations[" + i + "]";
            ViewCall.dims(shapes.get(i), name, "[layers, tokens, neurons]", 3);
            ViewCall.rows(shapes.get(i), 1, samples.get(i).size(), name, "the number of tokens of sample " + i);
        }
        TopkOptions o = options == null ? TopkOptions.defaults() : options;
        return call.put("activations", refs).put("tokens", samples).put("title", o.title()).put("max_k", o.maxK())
                .put("first_dimension_name", o.firstDimensionName()).put("third_dimension_name", o.thirdDimensionName())
                .put("sample_labels", ViewCall.strings(o.sampleLabels(), "sampleLabels", samples.size(), "tokens (samples)"))
                .put("first_dimension_labels", ViewCall.strings(o.firstDimensionLabels(), "firstDimensionLabels",
                        shapes.get(0)[0], "activations' first dim"))
                .render("viz.topk_tokens");
    }

    /** Each sample's tokens checked, and their count against the number of arrays. */
    private static List<List<String>> samples(List<List<String>> tokens, int arrays, String what) {
        if (tokens == null || tokens.isEmpty()) {
            throw new IllegalArgumentException("tokens must list at least one sample (a list of token strings)");
        }
        if (arrays != tokens.size()) {
            throw new IllegalArgumentException(what + " has " + (arrays < 0 ? "nothing (null)" : arrays + " samples")
                    + " but tokens has " + tokens.size());
        }
        List<List<String>> samples = new ArrayList<>();
        for (int i = 0; i < tokens.size(); i++) {
            samples.add(ViewCall.strings(tokens.get(i), "tokens[" + i + "]"));
        }
        return samples;
    }

    // -- token_log_probs --------------------------------------------------------------------

    /**
     * Each token of a prompt coloured by the log prob the model gave it, with the top k
     * predictions on hover.
     *
     * <pre>{@code
     * Views.tokenLogProbs(model, "The cat sat on the mat. The cat sat on the mat.", 10).show();
     * }</pre>
     */
    public static Html tokenLogProbs(Model model, String prompt, int topK) {
        Objects.requireNonNull(model, "model");
        if (prompt == null || prompt.isEmpty()) {
            throw new IllegalArgumentException("prompt is null or empty");
        }
        try (Tensor tokens = model.toTokens(prompt); Tensor logits = model.logits(tokens); Tensor logProbs = logits.logSoftmax(-1)) {
            return tokenLogProbs(model, tokens, logProbs, topK, null);
        }
    }

    /**
     * Tokens coloured by their log prob, decoded with the model's tokenizer:
     * {@code tokens [pos]} or {@code [1, pos]} (BOS first), {@code logProbs [pos, d_vocab]} or {@code [1, pos, d_vocab]}.
     *
     * @param title the page title, or null
     */
    public static Html tokenLogProbs(Model model, Tensor tokens, Tensor logProbs, int topK, String title) {
        Objects.requireNonNull(model, "model");
        ViewCall call = new ViewCall(model.lens());
        checkLogProbs(ViewCall.shape(tokens, "tokens"), ViewCall.shape(logProbs, "logProbs"), topK, null);
        return call.put("token_indices", call.ref(tokens, "tokens")).put("log_probs", call.ref(logProbs, "logProbs"))
                .put("model", model.ref()).put("top_k", topK).put("title", title).render("viz.token_log_probs");
    }

    /** Tokens coloured by their log prob, decoded with {@code vocab} (one string per token id). */
    public static Html tokenLogProbs(Tensor tokens, Tensor logProbs, List<String> vocab, int topK, String title) {
        List<String> words = ViewCall.strings(vocab, "vocab");
        ViewCall call = new ViewCall(Objects.requireNonNull(tokens, "tokens").lens());
        checkLogProbs(tokens.shape(), ViewCall.shape(logProbs, "logProbs"), topK, words);
        return call.put("token_indices", call.ref(tokens, "tokens")).put("log_probs", call.ref(logProbs, "logProbs"))
                .put("vocab", words).put("top_k", topK).put("title", title).render("viz.token_log_probs");
    }

    /** Tokens coloured by their log prob: {@code tokens[pos]} (BOS first), {@code logProbs[pos][d_vocab]}, {@code vocab} one string per id. */
    public static Html tokenLogProbs(Lens lens, long[] tokens, float[][] logProbs, List<String> vocab, int topK, String title) {
        List<String> words = ViewCall.strings(vocab, "vocab");
        if (tokens == null) {
            throw new IllegalArgumentException("tokens is null");
        }
        long[] lpShape = Nd.shape(logProbs, "logProbs");
        checkLogProbs(new long[] {tokens.length}, lpShape, topK, words);
        for (int i = 0; i < tokens.length; i++) {
            if (tokens[i] < 0 || tokens[i] >= lpShape[1]) {
                throw new IllegalArgumentException("tokens[" + i + "] = " + tokens[i] + " is not a token id in [0, " + lpShape[1] + ")");
            }
        }
        ViewCall call = new ViewCall(lens);
        return call.put("token_indices", call.blob(Nd.longs(tokens, "tokens"))).array("log_probs", logProbs, 2)
                .put("vocab", words).put("top_k", topK).put("title", title).render("viz.token_log_probs");
    }

    private static void checkLogProbs(long[] tokens, long[] logProbs, int topK, List<String> vocab) {
        long[] t = tokens.length == 2 && tokens[0] == 1 ? new long[] {tokens[1]} : tokens;
        long[] lp = logProbs.length == 3 && logProbs[0] == 1 ? new long[] {logProbs[1], logProbs[2]} : logProbs;
        ViewCall.dims(t, "tokens", "[pos] or [1, pos]", 1);
        ViewCall.dims(lp, "logProbs", "[pos, d_vocab] or [1, pos, d_vocab]", 2);
        if (lp[0] != t[0]) {
            throw new IllegalArgumentException("logProbs must have one row per token: tokens has " + t[0]
                    + " positions, logProbs has shape " + Arrays.toString(logProbs));
        }
        if (t[0] < 2) {
            throw new IllegalArgumentException("tokenLogProbs needs at least 2 tokens (the first is taken as BOS), got " + t[0]);
        }
        if (topK < 1 || topK > lp[1]) {
            throw new IllegalArgumentException("topK must be in [1, " + lp[1] + "] (d_vocab), got " + topK);
        }
        if (vocab != null && vocab.size() != lp[1]) {
            throw new IllegalArgumentException("vocab has " + vocab.size() + " strings but logProbs' last dim (d_vocab) is " + lp[1]);
        }
    }
}
