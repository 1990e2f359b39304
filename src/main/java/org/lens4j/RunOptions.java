package org.lens4j;

/**
 * Options of a forward pass, as TransformerLens' {@code forward}/{@code run_with_cache} name them.
 *
 * <pre>{@code
 * model.runWithCache(prompt, Names.all(), RunOptions.defaults().withStopAtLayer(2).withReturnType(ReturnType.NONE));
 * }</pre>
 *
 * @param returnType what the run returns besides the cache
 * @param prependBos null: the model's default
 * @param paddingSide "left" or "right" for batches of prompts of different lengths; null: the tokenizer's
 * @param stopAtLayer run only the blocks before this one (negative counts from the end); null runs all
 * @param removeBatchDim drop the batch dimension of cache entries (batch of one only)
 * @param lossPerToken give the loss per token instead of the mean
 */
public record RunOptions(ReturnType returnType, Boolean prependBos, String paddingSide, Integer stopAtLayer,
                         boolean removeBatchDim, boolean lossPerToken) {

    /** What a run returns besides its cache. */
    public enum ReturnType {
        LOGITS, LOSS, BOTH, NONE;

        String wire() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    public RunOptions {
        if (returnType == null) {
            throw new IllegalArgumentException("returnType must not be null; use ReturnType.NONE for none");
        }
        if (paddingSide != null && !paddingSide.equals("left") && !paddingSide.equals("right")) {
            throw new IllegalArgumentException("paddingSide must be 'left' or 'right'; got '" + paddingSide + "'");
        }
    }

    public static RunOptions defaults() {
        return new RunOptions(ReturnType.LOGITS, null, null, null, false, false);
    }

    public RunOptions withReturnType(ReturnType value) {
        return with(b -> b.returnType = value);
    }

    public RunOptions withPrependBos(Boolean value) {
        return with(b -> b.prependBos = value);
    }

    public RunOptions withPaddingSide(String value) {
        return with(b -> b.paddingSide = value);
    }

    public RunOptions withStopAtLayer(Integer value) {
        return with(b -> b.stopAtLayer = value);
    }

    public RunOptions withRemoveBatchDim(boolean value) {
        return with(b -> b.removeBatchDim = value);
    }

    public RunOptions withLossPerToken(boolean value) {
        return with(b -> b.lossPerToken = value);
    }

    // The withers' one copy point (docs/API-CONVENTIONS.md); the canonical constructor still validates.
    private RunOptions with(java.util.function.Consumer<Builder> change) {
        Builder b = new Builder(this);
        change.accept(b);
        return new RunOptions(b.returnType, b.prependBos, b.paddingSide, b.stopAtLayer, b.removeBatchDim, b.lossPerToken);
    }

    private static final class Builder {
        ReturnType returnType;
        Boolean prependBos;
        String paddingSide;
        Integer stopAtLayer;
        boolean removeBatchDim;
        boolean lossPerToken;

        Builder(RunOptions o) {
            returnType = o.returnType; prependBos = o.prependBos; paddingSide = o.paddingSide; stopAtLayer = o.stopAtLayer;
            removeBatchDim = o.removeBatchDim; lossPerToken = o.lossPerToken;
        }
    }
}
