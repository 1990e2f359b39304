package org.lens4j.hook;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * Options of {@code model.generate}: greedy decoding or sampling (temperature, top-k, top-p,
 * a seed that makes it repeatable), how many tokens, whether to stop at the end-of-text token,
 * whether to return the logits of each step, and hooks that are on for every forward of the
 * loop (added hooks fire too).
 *
 * <pre>{@code
 * Generation g = model.generate(prompt, GenerateOptions.greedy(20));
 * Generation s = model.generate(prompt, GenerateOptions.sampling(20, 0.8).withTopK(40).withSeed(7L));
 * Generation steered = model.generate(prompt, GenerateOptions.greedy(20).withStopAtEos(false)
 *     .withHooks(Hook.at("blocks.6.hook_resid_pre").add(direction, 4.0)).withReturnLogits(true));
 * }</pre>
 *
 * @param maxNewTokens how many tokens to generate at most (>= 1)
 * @param doSample false: greedy (argmax); true: sample
 * @param topK sample among the k most likely tokens; null: all
 * @param topP nucleus sampling: the smallest set of tokens with probability >= p; null: off
 * @param temperature divides the logits before sampling (> 0); 0 means greedy, as in TransformerLens
 * @param seed seeds torch's generator for this call only; null: unseeded
 * @param stopAtEos stop a prompt at the end-of-text token
 * @param returnLogits also return the logits of each step [batch, steps, d_vocab]
 * @param prependBos null: the model's default
 * @param useKvCache reuse keys and values between steps (hooks then see the prompt once, then one position per step)
 * @param hooks forward hooks on during the generation
 */
public record GenerateOptions(int maxNewTokens, boolean doSample, Integer topK, Double topP, double temperature, Long seed,
                              boolean stopAtEos, boolean returnLogits, Boolean prependBos, boolean useKvCache, List<Hook> hooks) {
    public GenerateOptions {
        if (maxNewTokens < 1) {
            throw new IllegalArgumentException("maxNewTokens must be >= 1, got " + maxNewTokens);
        }
        if (!(temperature >= 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be >= 0 (0 means greedy, as in TransformerLens), got " + temperature);
        }
        if (temperature == 0) {
            // TransformerLens' sample_logits: temperature 0 is the argmax, whatever do_sample says.
            doSample = false;
        }
        if (topK != null && topK < 1) {
            throw new IllegalArgumentException("topK must be >= 1, got " + topK);
        }
        if (topP != null && !(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("topP must be in (0, 1], got " + topP);
        }
        hooks = List.copyOf(Objects.requireNonNull(hooks, "hooks"));
    }

    /** Greedy decoding of up to {@code maxNewTokens} tokens, stopping at end-of-text. */
    public static GenerateOptions greedy(int maxNewTokens) {
        return new GenerateOptions(maxNewTokens, false, null, null, 1.0, null, true, false, null, true, List.of());
    }

    /** Sampling at a temperature. */
    public static GenerateOptions sampling(int maxNewTokens, double temperature) {
        return new GenerateOptions(maxNewTokens, true, null, null, temperature, null, true, false, null, true, List.of());
    }

    public GenerateOptions withMaxNewTokens(int value) {
        return with(b -> b.maxNewTokens = value);
    }

    public GenerateOptions withDoSample(boolean value) {
        return with(b -> b.doSample = value);
    }

    public GenerateOptions withTopK(Integer value) {
        return with(b -> b.topK = value);
    }

    public GenerateOptions withTopP(Double value) {
        return with(b -> b.topP = value);
    }

    public GenerateOptions withTemperature(double value) {
        return with(b -> b.temperature = value);
    }

    public GenerateOptions withSeed(Long value) {
        return with(b -> b.seed = value);
    }

    /** As {@link #withSeed(Long)}, so that {@code withSeed(7)} compiles. */
    public GenerateOptions withSeed(int value) {
        return withSeed((long) value);
    }

    public GenerateOptions withStopAtEos(boolean value) {
        return with(b -> b.stopAtEos = value);
    }

    public GenerateOptions withReturnLogits(boolean value) {
        return with(b -> b.returnLogits = value);
    }

    public GenerateOptions withPrependBos(Boolean value) {
        return with(b -> b.prependBos = value);
    }

    public GenerateOptions withUseKvCache(boolean value) {
        return with(b -> b.useKvCache = value);
    }

    public GenerateOptions withHooks(Hook... value) {
        return with(b -> b.hooks = Arrays.asList(value));
    }

    // The withers' one copy point (docs/API-CONVENTIONS.md); the canonical constructor still validates.
    private GenerateOptions with(java.util.function.Consumer<Builder> change) {
        Builder b = new Builder(this);
        change.accept(b);
        return new GenerateOptions(b.maxNewTokens, b.doSample, b.topK, b.topP, b.temperature, b.seed, b.stopAtEos,
                b.returnLogits, b.prependBos, b.useKvCache, b.hooks);
    }

    private static final class Builder {
        int maxNewTokens;
        boolean doSample;
        Integer topK;
        Double topP;
        double temperature;
        Long seed;
        boolean stopAtEos;
        boolean returnLogits;
        Boolean prependBos;
        boolean useKvCache;
        List<Hook> hooks;

        Builder(GenerateOptions o) {
            maxNewTokens = o.maxNewTokens; doSample = o.doSample; topK = o.topK; topP = o.topP; temperature = o.temperature;
            seed = o.seed; stopAtEos = o.stopAtEos; returnLogits = o.returnLogits; prependBos = o.prependBos;
            useKvCache = o.useKvCache; hooks = o.hooks;
        }
    }
}
