package org.lens4j.internal;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.lens4j.ActivationCache;
import org.lens4j.Blob;
import org.lens4j.Handle;
import org.lens4j.Lens;
import org.lens4j.ProgressListener;
import org.lens4j.Tensor;
import org.lens4j.engine.Engine;
import org.lens4j.engine.Reply;

/**
 * The one door from lens4j's own packages ({@code hook}, {@code analysis}, {@code viz}, ...)
 * into what the root package keeps package-private: calling ops, the engine, and making
 * handles from op results. It follows JEP's {@code JepAccess}: the root package opens the door
 * once, when {@link Lens} is initialised, so no public method of the API exists only for
 * lens4j's own use.
 *
 * <p><b>Not API.</b> {@code org.lens4j.internal} is recorded as non-API in {@code api/lens4j.api}
 * and may change in any release. Code outside lens4j that needs an op the typed API lacks may
 * use {@link #ops(Lens)}, knowing that.
 *
 * <pre>{@code
 * Ops ops = LensAccess.ops(model.lens());
 * Tensor scores = ops.tensor(ops.call("analysis.detect_head", Args.of("model", model.ref(), "input", prompt,
 *         "pattern", "induction_head").map()).value());
 * }</pre>
 */
public final class LensAccess {
    /** What the root package lends; implemented once, inside {@link Lens}. */
    public interface Door {
        Reply call(Lens lens, String op, Map<String, ?> args, List<Blob> blobs, ProgressListener progress);

        Engine engine(Lens lens);

        Tensor tensor(Lens lens, JsonNode node);

        ActivationCache cache(Lens lens, JsonNode node);

        Handle object(Lens lens, long id, String type);

        long register(Lens lens, Ops.Callback callback);

        void unregister(Lens lens, long id);

        void registerNamed(Lens lens, String name, Ops.Callback callback);
    }

    private static volatile Door door;

    private LensAccess() {
    }

    /** Called once, by {@link Lens}'s static initialiser; a second call is refused. */
    public static synchronized void open(Door rootDoor) {
        if (door != null) {
            throw new IllegalStateException("the root package's door is already open");
        }
        door = Objects.requireNonNull(rootDoor, "rootDoor");
    }

    /** Every Python op by name, and the conversion of its results, on {@code lens}'s engine. */
    public static Ops ops(Lens lens) {
        return new Ops(door(), Objects.requireNonNull(lens, "lens"));
    }

    /** {@code lens}'s engine: for tests and lens4j's own layers. */
    public static Engine engine(Lens lens) {
        return door().engine(Objects.requireNonNull(lens, "lens"));
    }

    static Door door() {
        Door d = door;
        if (d == null) {
            try {
                Class.forName(Lens.class.getName(), true, Lens.class.getClassLoader()); // runs Lens's static initialiser
            } catch (ClassNotFoundException e) {
                throw new IllegalStateException(e);
            }
            d = door;
        }
        return d;
    }
}
