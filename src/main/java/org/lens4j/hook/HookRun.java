package org.lens4j.hook;

/**
 * The result of {@code model.runWithHooks(input, options, hooks...)}: the logits (null unless
 * asked for; the residual stream with {@code stopAtLayer}), the loss (null unless asked
 * for: a one-element tensor, or [batch, pos - 1] per token), and what capture actions stored.
 * Closing it closes all of them.
 *
 * <pre>{@code
 * try (HookRun run = model.runWithHooks(prompt, HookRunOptions.defaults().withReturnType(ReturnType.BOTH),
 *         Hook.at("blocks.1.attn.hook_z").positions(-1).heads(2).capture("z").zero())) {
 *     System.out.println(run.lossValue() + " " + run.captures().get("z"));
 * }
 * }</pre>
 */
public record HookRun(org.lens4j.Tensor logits, org.lens4j.Tensor loss, Captures captures) implements AutoCloseable {
    /** The mean loss as a number; an IllegalStateException when the run did not compute it. */
    public double lossValue() {
        if (loss == null) {
            throw new IllegalStateException("this run has no loss: ask for it with HookRunOptions.withReturnType(LOSS or BOTH)");
        }
        if (loss.numel() == 1) {
            return loss.item();
        }
        try (org.lens4j.Tensor mean = loss.mean()) {
            return mean.item();
        }
    }

    @Override
    public void close() {
        if (logits != null) {
            logits.close();
        }
        if (loss != null) {
            loss.close();
        }
        captures.close();
    }
}
