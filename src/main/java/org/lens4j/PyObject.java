package org.lens4j;

/**
 * A handle to a Python object that has no richer Java type (a hook set, an op's private
 * state); other packages see it as a {@link Handle} and pass it back to ops with {@link #ref()}.
 */
final class PyObject extends Handle {
    private final String type;

    PyObject(Lens lens, long id, String type) {
        super(lens, id);
        this.type = type;
    }

    String type() {
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
