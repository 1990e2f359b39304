package org.lens4j;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.lens4j.hook.Captures;
import org.lens4j.hook.Direction;
import org.lens4j.hook.Hook;
import org.lens4j.hook.HookPoint;

/**
 * Hooks attached to a model until removed: they fire in every later run of the model
 * ({@code logits}, {@code runWithCache}, {@code runWithHooks}, {@code generate}, analyses).
 * Made by {@code model.addHook(hook)} / {@code addHook(hook, true)} (permanent) and by the
 * hooks scope {@code model.hooks(hook, ...)}. Closing it removes its hooks; use it in a
 * try-with-resources block to remove them even when the block fails.
 *
 * <p>{@code model.resetHooks()} removes non-permanent hooks, {@code resetHooks(true, BOTH)}
 * permanent ones too (TransformerLens' {@code add_hook} / {@code add_perma_hook} /
 * {@code reset_hooks}). Dropping the Java object does not remove the hooks.
 *
 * <p>It lives in {@code org.lens4j}, beside {@link Model}, because it is a handle to hooks
 * installed in the engine: reading its captures and removing it call the engine, which the
 * hook vocabulary ({@code org.lens4j.hook}) never does.
 *
 * <pre>{@code
 * // seed 001, "Backup Name Mover Heads": ablate a head, then cache the ablated model
 * try (HookSet ablation = model.hooks(Hook.at(ActName.of("z", 9)).positions(-1).heads(9).zero())) {
 *     Run ablated = model.runWithCache(prompt);
 * }                                              // the ablation is gone here, even after an exception
 * HookSet steer = model.addHook(Hook.at("blocks.6.hook_resid_pre").add(direction, 4.0), true);
 * model.generate(prompt, GenerateOptions.greedy(20));
 * steer.close();
 * }</pre>
 */
public final class HookSet implements AutoCloseable {
    private final HookRunner runner;
    private final Handle handle;
    private final boolean permanent;
    private final List<HookPoint> points;
    private final Map<Direction, List<Long>> callbacks;
    private boolean removed;

    HookSet(HookRunner runner, JsonNode node, Map<Direction, List<Long>> callbacks) {
        if (!node.has("$h")) {
            throw new IllegalArgumentException("not a hook set in the op's result: " + node);
        }
        this.runner = runner;
        this.handle = new PyObject(runner.model().lens(), node.get("$h").asLong(), node.path("type").asText("object"));
        this.permanent = node.path("permanent").asBoolean();
        this.points = HookWire.points(node.path("hooks"));
        this.callbacks = new EnumMap<>(callbacks);
    }

    /** The model these hooks are on. */
    public Model model() {
        return runner.model();
    }

    /** Whether only {@code resetHooks(true, ...)} removes these hooks (besides {@link #close()}). */
    public boolean isPermanent() {
        return permanent;
    }

    /** Every hook point these hooks reached (a filter's matches, each point once). */
    public List<HookPoint> points() {
        return points;
    }

    /** Whether the hooks were removed, by {@link #close()} or by a reset. */
    public synchronized boolean isRemoved() {
        return removed;
    }

    /**
     * What this set's capture actions stored since the last read (cleared by the read). A
     * {@link Hook#captureEach captureEach} key holds one tensor per run of the model.
     */
    public synchronized Captures captures() {
        if (removed && handle.isClosed()) {
            return Captures.empty();
        }
        Lens lens = model().lens();
        JsonNode v = lens.call("hooks.captures", Map.of("hook_set", handle.ref()), List.of(), null).value();
        return HookWire.captures(lens, v);
    }

    /** Remove the hooks; returns how many were still attached (0 after a reset or a second call). */
    public synchronized int remove() {
        if (removed) {
            return 0;
        }
        removed = true;
        Lens lens = model().lens();
        try {
            if (handle.isClosed() || !lens.isAlive()) {
                return 0;
            }
            int n = lens.call("hooks.remove", Map.of("hook_set", handle.ref()), List.of(), null).value().asInt();
            handle.close();
            return n;
        } finally {
            unregister(Direction.BOTH);
            runner.forget(this);
        }
    }

    /** A reset removed this set's hooks of {@code direction}: drop their Java callbacks. */
    synchronized void resetRemoved(Direction direction) {
        unregister(direction);
        boolean forward = direction != Direction.BACKWARD || points.stream().noneMatch(p -> p.direction() == Direction.FORWARD);
        boolean backward = direction != Direction.FORWARD || points.stream().noneMatch(p -> p.direction() == Direction.BACKWARD);
        if (forward && backward) {
            removed = true;
            handle.close();
        }
    }

    private void unregister(Direction direction) {
        callbacks.entrySet().removeIf(e -> {
            if (direction == Direction.BOTH || e.getKey() == direction) {
                e.getValue().forEach(id -> model().lens().unregisterCallback(id));
                return true;
            }
            return false;
        });
    }

    /** Same as {@link #remove()}. */
    @Override
    public void close() {
        remove();
    }

    @Override
    public String toString() {
        return "HookSet[" + (permanent ? "permanent, " : "") + points.size() + " hook point(s)" + (isRemoved() ? ", removed" : "")
                + (points.size() <= 6 ? " " + points.stream().map(HookPoint::name).toList() : "") + "]";
    }
}
