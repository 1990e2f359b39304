package org.lens4j.analysis;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import org.lens4j.Input;
import org.lens4j.InvalidInputException;
import org.lens4j.Lens;
import org.lens4j.Model;
import org.lens4j.Tensor;
import org.lens4j.internal.Args;
import org.lens4j.internal.LensAccess;
import org.lens4j.viz.Figures;
import org.lens4j.viz.Html;
import org.lens4j.viz.SeriesOptions;

/**
 * Activation addition (seed 003): the mean difference {@code (a - b).mean(0)} of an
 * {@link ActivationDataset}, per layer, added back into the model with a coefficient during a
 * run or a generation, at the hook point it was read at.
 *
 * <pre>{@code
 * ActivationDataset data = ActivationDataset.collect(model, pairs, " :",
 *         ActivationDataset.Options.defaults().withSite(ActivationDataset.Site.RESID_PRE));
 * SteeringVector love = SteeringVector.of(model.lens(), data);
 * Tensor steered = love.apply(model, "I think that", 4, 8.0);         // logits with 8 x vector added at blocks.4.hook_resid_pre
 * String text = love.generate(model, "I think that", 4, 8.0, 20);     // greedy, 20 new tokens
 * }</pre>
 *
 * @param hook the site name the vectors were read at ("resid_pre", "ln2.hook_normalized", ...)
 * @param layers the layers of {@code vectors}
 * @param vectors [layer][d_model]
 * @param norms the L2 norm of each vector
 */
public record SteeringVector(String hook, List<Integer> layers, double[][] vectors, double[] norms) {

    /** The mean difference of a dataset's a and b activations, computed in Python (float32, as the activations). */
    public static SteeringVector of(Lens lens, ActivationDataset data) {
        Objects.requireNonNull(lens, "lens");
        Objects.requireNonNull(data, "data");
        try (Tensor a = data.send(lens, data.a()); Tensor b = data.send(lens, data.b())) {
            JsonNode v = LensAccess.ops(lens).call("analysis.steering_vector", Args.of("a", a.ref(), "b", b.ref()).map()).value();
            return new SteeringVector(data.hook(), data.layers(), Wire.d2(lens, v.get("vector")), Wire.d1(lens, v.get("norm")));
        }
    }

    /** The vector of one model layer. */
    public double[] vector(int layer) {
        int i = layers.indexOf(layer);
        if (i < 0) {
            throw new InvalidInputException("no steering vector for layer " + layer + "; this one has layers " + layers);
        }
        return vectors[i].clone();
    }

    /** The vectors' norms by layer, a line. */
    public Html figure(Lens lens) {
        return Figures.line(lens, norms, SeriesOptions.titled("Steering vector norm by layer (" + hook + ")").withX(layers)
                .withXaxis("Layer").withYaxis("L2 norm"));
    }

    /** The hook point where the vector of {@code layer} is added: where it was read. */
    public String hookName(int layer) {
        return ActivationDataset.Site.fromWire(hook).hookName(layer);
    }

    /** The logits [batch, pos, d_vocab] of {@code input} with {@code coefficient x vector(layer)} added at every position. */
    public Tensor apply(Model model, Input input, int layer, double coefficient) {
        Objects.requireNonNull(model, "model");
        Lens lens = model.lens();
        try (Tensor v = vectorTensor(lens, layer)) {
            JsonNode r = LensAccess.ops(lens).call("hooks.run_with_hooks", Args.of("model", model.ref(), "input", Wire.arg(input, "input"),
                    "hooks", List.of(spec(layer, v, coefficient))).map()).value();
            return LensAccess.ops(lens).tensor(r.get("logits"));
        }
    }

    /** As {@link #apply(Model, Input, int, double)}, on a prompt. */
    public Tensor apply(Model model, String input, int layer, double coefficient) {
        return apply(model, Wire.input(input, "input"), layer, coefficient);
    }

    /** As {@link #apply(Model, Input, int, double)}, on prompts. */
    public Tensor apply(Model model, List<String> input, int layer, double coefficient) {
        return apply(model, Wire.input(input, "input"), layer, coefficient);
    }

    /** As {@link #apply(Model, Input, int, double)}, on tokens. */
    public Tensor apply(Model model, Tensor input, int layer, double coefficient) {
        return apply(model, Wire.input(input, "input"), layer, coefficient);
    }

    /** Greedy generation from {@code prompt} with the vector added at every step; returns the whole text (prompt included). */
    public String generate(Model model, String prompt, int layer, double coefficient, int maxNewTokens) {
        Objects.requireNonNull(model, "model");
        if (prompt == null) {
            throw new InvalidInputException("the prompt is null");
        }
        Wire.requirePositive(maxNewTokens, "maxNewTokens");
        Lens lens = model.lens();
        try (Tensor v = vectorTensor(lens, layer)) {
            JsonNode r = LensAccess.ops(lens).call("hooks.generate", Args.of("model", model.ref(), "input", prompt, "max_new_tokens", maxNewTokens,
                    "hooks", List.of(spec(layer, v, coefficient))).map()).value();
            try (Tensor tokens = LensAccess.ops(lens).tensor(r.get("tokens"))) {
                return r.get("text").asText();
            }
        }
    }

    private Map<String, Object> spec(int layer, Tensor vector, double coefficient) {
        return Map.of("names", List.of(hookName(layer)), "actions", List.of(Map.of("type", "add", "vector", vector.ref(), "coeff", coefficient)));
    }

    private Tensor vectorTensor(Lens lens, int layer) {
        double[] v = vector(layer);
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            f[i] = (float) v[i];
        }
        return lens.tensor(f, f.length);
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "SteeringVector[hook %s, layers %s, d_model %d]", hook, layers, vectors.length == 0 ? 0 : vectors[0].length);
    }
}
