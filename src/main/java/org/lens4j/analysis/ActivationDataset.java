package org.lens4j.analysis;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import org.lens4j.InvalidInputException;
import org.lens4j.Lens;
import org.lens4j.Model;
import org.lens4j.Tensor;
import org.lens4j.internal.Args;
import org.lens4j.internal.LensAccess;

/**
 * Seed 003's activation dataset: for each prompt pair, the activations at every layer of the
 * token right after a demarcation token (seed 003's {@code crate_activation_dataset}), as plain
 * arrays. The source of {@link SteeringVector}s and {@link Pca2} plots.
 *
 * <pre>{@code
 * List<PromptPair> pairs = List.of(PromptPair.of("Love : hate", "Love : love"), PromptPair.of("good : bad", "good : good"));
 * ActivationDataset data = ActivationDataset.collect(model, pairs, " :", ActivationDataset.Options.defaults());
 * double[][][] a = data.a();                              // [pair][layer][d_model]
 * SteeringVector v = SteeringVector.of(model.lens(), data);
 * Pca2.Result pca = Pca2.fit(model.lens(), data);
 * }</pre>
 *
 * <p>All prompts run in one right-padded batch (the seed truncates and runs each prompt; under
 * causal attention the activation at the read position is the same).
 *
 * @param hook where the activations were read ("ln2.hook_normalized", "resid_pre", "resid_mid", "resid_post")
 * @param layers the layers of the layer axis
 * @param demarcationId the demarcation token's id
 * @param positionsA per pair, the position read in prompt a
 * @param positionsB per pair, the position read in prompt b
 * @param a [pair][layer][d_model]
 * @param b [pair][layer][d_model]
 */
public record ActivationDataset(String hook, List<Integer> layers, int demarcationId, int[] positionsA, int[] positionsB, double[][][] a,
                                double[][][] b) {

    /** Where activations are read. */
    public enum Site {
        /** {@code blocks.L.ln2.hook_normalized}: seed 003's choice (the normalized input of the MLP) */
        LN2_NORMALIZED("ln2.hook_normalized"),
        RESID_PRE("resid_pre"),
        RESID_MID("resid_mid"),
        RESID_POST("resid_post");

        private final String wire;

        Site(String wire) {
            this.wire = wire;
        }

        public String wire() {
            return wire;
        }

        /** The hook name at a layer, such as {@code blocks.3.hook_resid_pre}. */
        public String hookName(int layer) {
            return this == LN2_NORMALIZED ? "blocks." + layer + ".ln2.hook_normalized" : "blocks." + layer + ".hook_" + wire;
        }

        static Site fromWire(String wire) {
            for (Site s : values()) {
                if (s.wire.equals(wire)) {
                    return s;
                }
            }
            throw new InvalidInputException("unknown activation site '" + wire + "'; valid: ln2.hook_normalized, resid_pre, resid_mid, resid_post");
        }
    }

    /**
     * Where and what to read; {@link #defaults()} is seed 003's choice.
     *
     * <pre>{@code
     * ActivationDataset.Options o = ActivationDataset.Options.defaults().withSite(ActivationDataset.Site.RESID_PRE).withLayers(List.of(4, 5));
     * }</pre>
     *
     * @param site where to read
     * @param layers which layers (negative from the end); null for all
     * @param offset read the token this many after the demarcation token (seed 003: 1)
     */
    public record Options(Site site, List<Integer> layers, int offset) {
        public Options {
            Objects.requireNonNull(site, "site");
            layers = Wire.checkedList(layers, "layers");
            if (offset < 0) {
                throw new InvalidInputException("offset must be >= 0; got " + offset);
            }
        }

        public static Options defaults() {
            return new Options(Site.LN2_NORMALIZED, null, 1);
        }

        public Options withSite(Site value) {
            return with(b -> b.site = value);
        }

        public Options withLayers(List<Integer> value) {
            return with(b -> b.layers = value);
        }

        public Options withOffset(int value) {
            return with(b -> b.offset = value);
        }

        // The withers' one copy point (docs/API-CONVENTIONS.md); the canonical constructor still validates.
        private Options with(java.util.function.Consumer<Builder> change) {
            Builder b = new Builder(this);
            change.accept(b);
            return new Options(b.site, b.layers, b.offset);
        }

        private static final class Builder {
            Site site;
            List<Integer> layers;
            int offset;

            Builder(Options o) {
                site = o.site; layers = o.layers; offset = o.offset;
            }
        }
    }

    /**
     * Collects the dataset.
     *
     * @param demarcation a text whose last token marks the spot (seed 003: {@code " :"}); every prompt must contain it
     */
    public static ActivationDataset collect(Model model, List<PromptPair> pairs, String demarcation, Options options) {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(options, "options");
        if (demarcation == null || demarcation.isEmpty()) {
            throw new InvalidInputException("the demarcation must be a non-empty text, such as \" :\"");
        }
        return collectWith(model, pairs, demarcation, options);
    }

    /** As above with the demarcation token given by id. */
    public static ActivationDataset collect(Model model, List<PromptPair> pairs, int demarcationId, Options options) {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(options, "options");
        return collectWith(model, pairs, AnswerPair.checkToken(demarcationId, "demarcation"), options);
    }

    private static ActivationDataset collectWith(Model model, List<PromptPair> pairs, Object demarcation, Options options) {
        Lens lens = model.lens();
        JsonNode v = LensAccess.ops(lens).call("analysis.activation_dataset", Args.of("model", model.ref(), "prompt_pairs", PromptPair.wire(pairs),
                "demarcation", demarcation, "layers", options.layers(), "offset", options.offset(), "hook", options.site().wire()).map()).value();
        return new ActivationDataset(v.get("hook").asText(), Wire.intList(v.get("layers")), v.get("demarcation_id").asInt(),
                Wire.ints(v.get("positions_a")), Wire.ints(v.get("positions_b")), Wire.d3(lens, v.get("a")), Wire.d3(lens, v.get("b")));
    }

    /** The site the activations were read at. */
    public Site site() {
        return Site.fromWire(hook);
    }

    /** The number of pairs. */
    public int size() {
        return a.length;
    }

    /** The activations of one side as a float32 tensor [pair, layer, d_model] in Python (for ops that take them). */
    Tensor send(Lens lens, double[][][] side) {
        int n = side.length;
        int l = side[0].length;
        int d = side[0][0].length;
        float[] flat = new float[n * l * d];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < l; j++) {
                for (int k = 0; k < d; k++) {
                    flat[(i * l + j) * d + k] = (float) side[i][j][k];
                }
            }
        }
        return lens.tensor(flat, n, l, d);
    }

    /** The row of the layer axis that holds a model layer. */
    int row(int layer) {
        int i = layers.indexOf(layer);
        if (i < 0) {
            throw new InvalidInputException("layer " + layer + " is not in this dataset; its layers are " + layers);
        }
        return i;
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "ActivationDataset[%d pairs, hook %s, layers %s, d_model %d]", a.length, hook, layers,
                a.length == 0 || a[0].length == 0 ? 0 : a[0][0].length);
    }
}
