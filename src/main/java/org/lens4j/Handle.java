package org.lens4j;

import java.lang.ref.Cleaner;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A Java handle to an object that lives in Python (a tensor, a model, a cache, ...).
 *
 * <p>Free it with {@link #close()}, by closing the {@link Scope} it was made in or the
 * {@link Lens}, or let the garbage collector do it (releases are batched into one message).
 * A handle never outlives its engine: after {@link Lens#restart()} it fails with a
 * {@link HandleClosedException} instead of pointing at a newer object.
 *
 * <pre>{@code
 * try (Tensor logits = model.logits("Hello")) {
 *     System.out.println(logits.shape()[2]);
 * } // released in Python here
 * }</pre>
 */
public abstract class Handle implements AutoCloseable {
    private static final Cleaner CLEANER = Cleaner.create();

    private final Lens lens;
    private final long id;
    private final long epoch;
    private final AtomicBoolean closed;
    private final Cleaner.Cleanable cleanable;

    Handle(Lens lens, long id) {
        this.lens = lens;
        this.id = id;
        this.epoch = lens.handleEpoch(); // the epoch of the call that made it, even if a restart began since
        this.closed = new AtomicBoolean();
        this.cleanable = CLEANER.register(this, new Releaser(lens, id, epoch, closed));
        lens.track(this);
    }

    /** Runs when the handle is closed or unreachable; must not reference the handle itself. */
    private record Releaser(Lens lens, long id, long epoch, AtomicBoolean closed) implements Runnable {
        @Override
        public void run() {
            if (closed.compareAndSet(false, true)) {
                lens.releaseLater(id, epoch);
            }
        }
    }

    /** What this handle calls itself in messages ("tensor", "model", ...). */
    abstract String what();

    public final Lens lens() {
        return lens;
    }

    public final boolean isClosed() {
        return closed.get() || epoch != lens.epoch();
    }

    /** The Python-side id, checked: a closed or stale handle throws {@link HandleClosedException}. */
    public final long id() {
        if (closed.get()) {
            throw new HandleClosedException("this " + what() + " (handle " + id + ") is closed");
        }
        if (epoch != lens.epoch() && lens.closedByUser()) {
            throw new HandleClosedException("this " + what() + " (handle " + id + ") belonged to a Lens that was closed"
                    + " (Lens.close()); start a new one (Lens.start()) and load the model again");
        }
        if (epoch != lens.epoch()) {
            throw new HandleClosedException("this " + what() + " (handle " + id + ") belonged to an engine that stopped;"
                    + " after Lens.restart(), load the model again and redo the computation");
        }
        return id;
    }

    /** The reference to pass as an op argument: {@code {"$h": id}}. */
    public final Map<String, Object> ref() {
        return Map.of("$h", id());
    }

    @Override
    public void close() {
        cleanable.clean();
    }
}
