package org.lens4j.hook;

import org.lens4j.RunOptions.ReturnType;

/**
 * Options of {@code model.runWithHooks}: what the run returns, where it stops, and how
 * prompts are tokenized, as TransformerLens' {@code run_with_hooks} names them.
 *
 * <pre>{@code
 * HookRun run = model.runWithHooks(prompt, HookRunOptions.defaults().withReturnType(ReturnType.BOTH),
 *     Hook.at(ActName.of("z", 1)).heads(0).zero());
 * double loss = run.lossValue();
 * HookRun resid = model.runWithHooks(prompt, HookRunOptions.defaults().withStopAtLayer(1),
 *     Hook.at("blocks.0.hook_resid_mid").scale(2.0));          // logits() holds the residual stream
 * }</pre>
 *
 * @param returnType logits, loss, both or none (then only the captures come back)
 * @param stopAtLayer run only the blocks before this one (negative counts from the end); hooks after it do not fire; null runs all
 * @param prependBos null: the model's default
 * @param paddingSide "left" or "right" for batches of prompts of different lengths; null: the tokenizer's
 * @param lossPerToken give the loss per token ([batch, pos - 1]) instead of the mean
 */
public record HookRunOptions(ReturnType returnType, Integer stopAtLayer, Boolean prependBos, String paddingSide,
                             boolean lossPerToken) {
    public HookRunOptions {
        if (returnType == null) {
            throw new IllegalArgumentException("returnType must not be null; use ReturnType.NONE for none");
        }
        if (paddingSide != null && !paddingSide.equals("left") && !paddingSide.equals("right")) {
            throw new IllegalArgumentException("paddingSide must be 'left' or 'right'; got '" + paddingSide + "'");
        }
    }

    public static HookRunOptions defaults() {
        return new HookRunOptions(ReturnType.LOGITS, null, null, null, false);
    }

    public HookRunOptions withReturnType(ReturnType value) {
        return with(b -> b.returnType = value);
    }

    public HookRunOptions withStopAtLayer(Integer value) {
        return with(b -> b.stopAtLayer = value);
    }

    public HookRunOptions withPrependBos(Boolean value) {
        return with(b -> b.prependBos = value);
    }

    public HookRunOptions withPaddingSide(String value) {
        return with(b -> b.paddingSide = value);
    }

    public HookRunOptions withLossPerToken(boolean value) {
        return with(b -> b.lossPerToken = value);
    }

    // The withers' one copy point (docs/API-CONVENTIONS.md); the canonical constructor still validates.
    private HookRunOptions with(java.util.function.Consumer<Builder> change) {
        Builder b = new Builder(this);
        change.accept(b);
        return new HookRunOptions(b.returnType, b.stopAtLayer, b.prependBos, b.paddingSide, b.lossPerToken);
    }

    private static final class Builder {
        ReturnType returnType;
        Integer stopAtLayer;
        Boolean prependBos;
        String paddingSide;
        boolean lossPerToken;

        Builder(HookRunOptions o) {
            returnType = o.returnType; stopAtLayer = o.stopAtLayer; prependBos = o.prependBos; paddingSide = o.paddingSide;
            lossPerToken = o.lossPerToken;
        }
    }
}
