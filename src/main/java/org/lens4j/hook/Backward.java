package org.lens4j.hook;

import org.lens4j.internal.LensAccess;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.lens4j.Lens;
import org.lens4j.Scope;
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

    private final String type;
    private final int[] good;
    private final int[] bad;
    private final int position;
    private final Metric metric;

    private Backward(String type, int[] good, int[] bad, int position, Metric metric) {
        this.type = type;
        this.good = good;
        this.bad = bad;
        this.position = position;
        this.metric = metric;
    }

    /** The mean next-token loss. */
    public static Backward loss() {
        return new Backward("loss", null, null, -1, null);
    }

    /** {@code logits[:, pos, good] - logits[:, pos, bad]}, averaged over prompts. */
    public static Backward logitDiff(int good, int bad) {
        return new Backward("logit_diff", new int[] {good}, new int[] {bad}, -1, null);
    }

    /** A logit difference with one answer pair per prompt. */
    public static Backward logitDiff(int[] good, int[] bad) {
        if (good.length != bad.length || good.length == 0) {
            throw new IllegalArgumentException("good and bad need one token id per prompt each, got " + good.length + " and " + bad.length);
        }
        return new Backward("logit_diff", good.clone(), bad.clone(), -1, null);
    }

    /** The logit of {@code token} at the position, averaged over prompts. */
    public static Backward logit(int token) {
        return new Backward("logit", new int[] {token}, null, -1, null);
    }

    /** One token per prompt. */
    public static Backward logit(int[] tokens) {
        return new Backward("logit", tokens.clone(), null, -1, null);
    }

    /**
     * A metric written in Java: called once with the logits [batch, pos, d_vocab] while
     * gradients are recorded; it must return a one-element tensor computed from them with
     * tensor ops. The tensors it makes are freed when it returns.
     */
    public static Backward metric(Metric metric) {
        return new Backward("java", null, null, -1, Objects.requireNonNull(metric, "metric"));
    }

    /** The position of the logits (default -1, the last); for logit and logitDiff. */
    public Backward atPosition(int pos) {
        if (!type.startsWith("logit")) {
            throw new IllegalStateException("atPosition applies to logit and logitDiff, not to " + type);
        }
        return new Backward(type, good, bad, pos, metric);
    }

    /** The op's {@code backward_of} value; a Java metric is registered with {@code call}. */
    Object wire(Lens lens, List<Long> registered) {
        return switch (type) {
            case "loss" -> "loss";
            case "logit_diff" -> {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("type", type);
                m.put("good", ids(good));
                m.put("bad", ids(bad));
                m.put("pos", position);
                yield m;
            }
            case "logit" -> {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("type", type);
                m.put("tokens", ids(good));
                m.put("pos", position);
                yield m;
            }
            default -> {
                long id = LensAccess.ops(lens).register((args, blobs) -> {
                    Scope scope = lens.scope(); // frees the metric's intermediate tensors, which hold the autograd graph
                    try {
                        Tensor out = metric.apply(LensAccess.ops(lens).tensor(args.get("logits")));
                        if (out == null) {
                            throw new IllegalStateException("the Java metric returned null; return a one-element tensor");
                        }
                        return out.ref(); // Python reads it before the scope's releases are sent
                    } finally {
                        scope.close();
                    }
                });
                registered.add(id);
                yield Map.of("type", "java", "id", id);
            }
        };
    }

    private static Object ids(int[] ids) {
        return ids.length == 1 ? (Object) ids[0] : Arrays.stream(ids).boxed().toList();
    }

    @Override
    public String toString() {
        return switch (type) {
            case "loss" -> "Backward.loss()";
            case "java" -> "Backward.metric(...)";
            case "logit" -> "Backward.logit(" + Arrays.toString(good) + ", pos " + position + ")";
            default -> "Backward.logitDiff(" + Arrays.toString(good) + " - " + Arrays.toString(bad) + ", pos " + position + ")";
        };
    }
}
