package org.lens4j;

/**
 * A handle to a Python object that has no richer Java type (a hook set, an op's private
 * state). Pass it back to ops with {@link #ref()}.
 *
 * <pre>{@code
 * PyObject hooks = lens.ops().object(lens.ops().call("hooks.add", args).value());
 * }</pre>
 */
public final class PyObject extends Handle {
    private final String type;

    PyObject(Lens lens, long id, String type) {
        super(lens, id);
        this.type = type;
    }

    public String type() {
        return type;
    }

    @Override
    String what() {
        return type;
    }

    @Override
    public String toString() {
        return "PyObject[" + type + " #" + (isClosed() ? "closed" : String.valueOf(id())) + "]";
    }
}
