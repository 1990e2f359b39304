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
        return new GenerateOptions(value, doSample, topK, topP, temperature, seed, stopAtEos, returnLogits, prependBos, useKvCache, hooks);
    }

    public GenerateOptions withDoSample(boolean value) {
        return new GenerateOptions(maxNewTokens, value, topK, topP, temperature, seed, stopAtEos, returnLogits, prependBos, useKvCache, hooks);
    }

    public GenerateOptions withTopK(Integer value) {
        return new GenerateOptions(maxNewTokens, doSample, value, topP, temperature, seed, stopAtEos, returnLogits, prependBos, useKvCache, hooks);
    }

    public GenerateOptions withTopP(Double value) {
        return new GenerateOptions(maxNewTokens, doSample, topK, value, temperature, seed, stopAtEos, returnLogits, prependBos, useKvCache, hooks);
    }

    public GenerateOptions withTemperature(double value) {
        return new GenerateOptions(maxNewTokens, doSample, topK, topP, value, seed, stopAtEos, returnLogits, prependBos, useKvCache, hooks);
    }

    public GenerateOptions withSeed(Long value) {
        return new GenerateOptions(maxNewTokens, doSample, topK, topP, temperature, value, stopAtEos, returnLogits, prependBos, useKvCache, hooks);
    }

    /** As {@link #withSeed(Long)}, so that {@code withSeed(7)} compiles. */
    public GenerateOptions withSeed(int value) {
        return withSeed((long) value);
    }

    public GenerateOptions withStopAtEos(boolean value) {
        return new GenerateOptions(maxNewTokens, doSample, topK, topP, temperature, seed, value, returnLogits, prependBos, useKvCache, hooks);
    }

    public GenerateOptions withReturnLogits(boolean value) {
        return new GenerateOptions(maxNewTokens, doSample, topK, topP, temperature, seed, stopAtEos, value, prependBos, useKvCache, hooks);
    }

    public GenerateOptions withPrependBos(Boolean value) {
        return new GenerateOptions(maxNewTokens, doSample, topK, topP, temperature, seed, stopAtEos, returnLogits, value, useKvCache, hooks);
    }

    public GenerateOptions withUseKvCache(boolean value) {
        return new GenerateOptions(maxNewTokens, doSample, topK, topP, temperature, seed, stopAtEos, returnLogits, prependBos, value, hooks);
    }

    public GenerateOptions withHooks(Hook... value) {
        return new GenerateOptions(maxNewTokens, doSample, topK, topP, temperature, seed, stopAtEos, returnLogits, prependBos, useKvCache,
                Arrays.asList(value));
    }
}
