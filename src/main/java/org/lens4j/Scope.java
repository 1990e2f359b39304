package org.lens4j;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

/**
 * Frees every handle made on this thread while it is open, like DJL's NDManager: the way to
 * run a loop of analyses without collecting tensors by hand.
 *
 * <pre>{@code
 * for (String prompt : prompts) {
 *     try (Scope scope = lens.scope()) {
 *         Run run = model.runWithCache(prompt, Names.only("resid_pre"));
 *         results.add(run.logits().select(0, 0).toFloatArray()); // everything freed at the end of the block
 *     }
 * }
 * }</pre>
 */
public final class Scope implements AutoCloseable {
    private final Lens lens;
    private final Set<Handle> handles = Collections.newSetFromMap(new IdentityHashMap<>());
    private boolean closed;

    Scope(Lens lens) {
        this.lens = lens;
    }

    void add(Handle h) {
        handles.add(h);
    }

    /** Take a handle out of this scope, so that it lives on after the scope closes. */
    public <T extends Handle> T keep(T handle) {
        handles.remove(handle);
        return handle;
    }

    public int size() {
        return handles.size();
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        lens.endScope(this);
        List<Handle> all = new ArrayList<>(handles);
        handles.clear();
        for (int i = all.size() - 1; i >= 0; i--) {
            all.get(i).close();
        }
    }
}
