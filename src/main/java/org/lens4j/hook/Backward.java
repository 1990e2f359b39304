package org.lens4j.hook;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import org.lens4j.Tensor;

/**
 * The scalar whose gradients {@code model.runWithGradients} takes: the mean next-token loss
 * (what TransformerLens' {@code incl_bwd} uses), a logit difference, one logit, or any metric
 * written in Java with tensor ops on the logits.
 *
 * <pre>{@code
 * Backward.loss();
 * Backward.logitDiff(model.toSingleToken(" Mary"), model.toSingleToken(" John"));   // at the last position, mean over prompts
 * Backward.logitDiff(new int[] {mary, tom}, new int[] {john, james}).atPosition(-1); // one answer pair per prompt
 * Backward.logit(mary);
 * Backward.metric(logits -> logits.select(1, -1).index(1, mary).mean());          // Java tensor ops keep the gradient
 * }</pre>
 */
public final class Backward {
    /** A metric computed in Java from the logits handle with tensor ops; returns a one-element tensor. */
    @FunctionalInterface
    public interface Metric {
        Tensor apply(Tensor logits) throws Exception;
    }

    /** Which scalar: the loss, a logit difference, one logit, or a Java metric. */
    public enum Kind { LOSS, LOGIT_DIFF, LOGIT, METRIC }

    private final Kind kind;
    private final List<Integer> good;
    private final List<Integer> bad;
    private final int position;
    private final Metric metric;

    private Backward(Kind kind, List<Integer> good, List<Integer> bad, int position, Metric metric) {
        this.kind = kind;
        this.good = good;
        this.bad = bad;
        this.position = position;
        this.metric = metric;
    }

    /** The mean next-token loss. */
    public static Backward loss() {
        return new Backward(Kind.LOSS, List.of(), List.of(), -1, null);
    }

    /** {@code logits[:, pos, good] - logits[:, pos, bad]}, averaged over prompts. */
    public static Backward logitDiff(int good, int bad) {
        return new Backward(Kind.LOGIT_DIFF, List.of(good), List.of(bad), -1, null);
    }

    /** A logit difference with one answer pair per prompt. */
    public static Backward logitDiff(int[] good, int[] bad) {
        if (good.length != bad.length || good.length == 0) {
            throw new IllegalArgumentException("good and bad need one token id per prompt each, got " + good.length + " and " + bad.length);
        }
        return new Backward(Kind.LOGIT_DIFF, ids(good), ids(bad), -1, null);
    }

    /** The logit of {@code token} at the position, averaged over prompts. */
    public static Backward logit(int token) {
        return new Backward(Kind.LOGIT, List.of(token), List.of(), -1, null);
    }

    /** One token per prompt. */
    public static Backward logit(int[] tokens) {
        return new Backward(Kind.LOGIT, ids(tokens), List.of(), -1, null);
    }

    /**
     * A metric written in Java: called once with the logits [batch, pos, d_vocab] while
     * gradients are recorded; it must return a one-element tensor computed from them with
     * tensor ops. The tensors it makes are freed when it returns.
     */
    public static Backward metric(Metric metric) {
        return new Backward(Kind.METRIC, List.of(), List.of(), -1, Objects.requireNonNull(metric, "metric"));
    }

    /** The position of the logits (default -1, the last); for logit and logitDiff. */
    public Backward atPosition(int pos) {
        if (kind != Kind.LOGIT && kind != Kind.LOGIT_DIFF) {
            throw new IllegalStateException("atPosition applies to logit and logitDiff, not to " + kind.name().toLowerCase(Locale.ROOT));
        }
        return new Backward(kind, good, bad, pos, metric);
    }

    // -- what it holds ------------------------------------------------------------------------

    public Kind kind() {
        return kind;
    }

    /** The tokens whose logits count positively: {@link #logit}'s tokens, {@link #logitDiff}'s good ones; empty otherwise. */
    public List<Integer> good() {
        return good;
    }

    /** {@link #logitDiff}'s bad tokens; empty otherwise. */
    public List<Integer> bad() {
        return bad;
    }

    /** The position of the logits for {@link #logit} and {@link #logitDiff} (-1, the last, unless {@link #atPosition} set it). */
    public int position() {
        return position;
    }

    /** The Java metric of {@link #metric}; empty for the other kinds. */
    public Optional<Metric> metric() {
        return Optional.ofNullable(metric);
    }

    private static List<Integer> ids(int[] ids) {
        return Arrays.stream(ids).boxed().toList();
    }

    @Override
    public String toString() {
        return switch (kind) {
            case LOSS -> "Backward.loss()";
            case METRIC -> "Backward.metric(...)";
            case LOGIT -> "Backward.logit(" + good + ", pos " + position + ")";
            case LOGIT_DIFF -> "Backward.logitDiff(" + good + " - " + bad + ", pos " + position + ")";
        };
    }
}
