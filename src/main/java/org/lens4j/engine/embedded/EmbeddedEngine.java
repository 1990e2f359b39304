package org.lens4j.engine.embedded;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import jep.JepException;
import jep.python.PyCallable;
import jep.python.PyObject;
import org.lens4j.Blob;
import org.lens4j.EngineException;
import org.lens4j.EngineOptions;
import org.lens4j.ErrorKind;
import org.lens4j.LensException;
import org.lens4j.ProgressListener;
import org.lens4j.engine.CallbackHandler;
import org.lens4j.engine.Engine;
import org.lens4j.engine.Json;
import org.lens4j.engine.Reply;
import org.lens4j.engine.WireErrors;
import org.lens4j.engine.worker.PythonEnv;

/**
 * The embedded engine: the real CPython and TransformerLens inside this JVM's own process, through
 * JEP (Java Embedded Python, JNI), running the same {@code Session.dispatch} as the worker
 * ({@code lens4j_bridge/embedded_entry.py} is the door). Same ops, same answers, no process and no
 * socket: a call costs microseconds instead of the worker's round trip.
 *
 * <p><b>No isolation.</b> A segfault or abort in native code (torch, a CUDA driver, JEP itself)
 * ends the whole JVM, and {@code os._exit} in Python ends it too; memory that Python leaks is the
 * JVM's. Unattended jobs and Spark executors that must survive such faults should use the worker
 * engine ({@code LENS4J_ENGINE=worker}), which a crash only costs a restart.
 *
 * <p><b>Threads.</b> One Java thread per JVM ({@code lens4j-embedded-python}) runs all Python:
 * every call, every handle release (the Cleaner's too: they are queued and flushed there) and
 * every tensor free. Calls from many Java threads wait their turn. A Java callback (a hook) is
 * called by Python directly on that thread, and a call made from inside it runs inline there. So
 * a callback runs on that thread, not on the caller's: a {@code Lens.scope()} opened on the
 * caller's thread does not collect handles made inside a hook (the Cleaner frees them).
 *
 * <p><b>Data.</b> A result blob reaches Java as a {@code byte[]} that JEP fills with one copy from
 * the tensor's memory; an argument blob reaches Python as a direct {@link ByteBuffer} read in
 * place through the buffer protocol (a heap blob is first copied into one).
 *
 * <p><b>Faults.</b> A Python exception is a {@link LensException} as on the worker; a Java
 * exception in a callback a {@link org.lens4j.CallbackFailedException}. A call that overruns
 * {@link EngineOptions#callTimeout()}, or whose waiting caller is interrupted, is interrupted in
 * Python (an exception raised at its next bytecode; a running native kernel finishes first) and
 * fails with an {@link EngineException} TIMEOUT or INTERRUPTED, and the engine takes the next call.
 *
 * <p>CPython starts once per process: the first embedded engine starts it, with its venv and
 * bridge; engines started later (after a close, or beside it) share that interpreter and thread,
 * each with its own handle table, and must ask for the same venv and bridge.
 *
 * <pre>{@code
 * try (Lens lens = Lens.start(EngineOptions.defaults().withEngine(EngineOptions.Kind.EMBEDDED))) {
 *     System.out.println(lens); // Lens[embedded engine (CPython 3.11.7 in this JVM through JEP 4.2.2, ...)]
 *     Model m = lens.load("toy-ioi");
 * }
 * }</pre>
 */
public final class EmbeddedEngine implements Engine {
    /** The JEP version of both halves: the Maven jar lens4j compiles against and venv-spec/embedded.txt. */
    public static final String JEP_VERSION = "4.2.2";

    private static final ScheduledExecutorService WATCHDOG = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "lens4j-embedded-watchdog");
        t.setDaemon(true);
        return t;
    });
    private static final AtomicLong SEQ = new AtomicLong();

    private final EngineOptions options;
    private final CallbackHandler callbacks;
    private final PythonThread python;
    private final ConcurrentLinkedQueue<Long> pendingReleases = new ConcurrentLinkedQueue<>();
    private final Deque<ProgressListener> progress = new ArrayDeque<>();
    private final FileChannel interruptPipe;
    private final String pythonVersion;
    private PyObject entry;
    private PyCallable callSeq;
    private volatile boolean alive = true;
    private Throwable callbackFailure;
    private Error fatal;
    /** Per outer call: what asked to interrupt it (TIMEOUT or INTERRUPTED), read after it ends. */
    private volatile ErrorKind interruptCause;
    /**
     * Where Python writes result blobs, one per calling thread (grown as needed): a reply's blobs
     * are views into it, valid until that thread's next call, whatever other threads do meanwhile.
     */
    private final ThreadLocal<ByteBuffer[]> resultArenas = ThreadLocal.withInitial(() -> new ByteBuffer[] {ByteBuffer.allocateDirect(0)});
    /** The arena of the call running now (on the Python thread only). */
    private ByteBuffer[] results;
    /** Where outer calls' argument blobs are copied for Python to read in place (nested calls get their own). */
    private ByteBuffer arguments = ByteBuffer.allocateDirect(0);

    private EmbeddedEngine(EngineOptions options, CallbackHandler callbacks, PythonThread python) {
        this.options = options;
        this.callbacks = callbacks;
        this.python = python;
        Map<String, String> env = new HashMap<>();
        if (options.offline()) {
            env.put("HF_HUB_OFFLINE", "1");
            env.put("TRANSFORMERS_OFFLINE", "1");
        }
        env.putAll(options.workerEnv());
        String envJson;
        try {
            envJson = Json.MAPPER.writeValueAsString(env);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("workerEnv cannot be written as JSON", e);
        }
        Object[] made = python.submit(() -> {
            var interp = python.interpreter();
            // The environment first: torch reads OMP_NUM_THREADS and the like when it is first
            // imported, which importing the bridge does (in the first engine of this JVM only).
            interp.exec("import json as _l4j_json, os as _l4j_os\n"
                    + "_l4j_os.environ.update(_l4j_json.loads(" + pyString(envJson) + "))\n"
                    + "import lens4j_bridge.embedded_entry as _l4j_embedded");
            PyCallable make = interp.getValue("_l4j_embedded.EmbeddedEntry", PyCallable.class);
            PyObject e = make.callAs(PyObject.class, new JavaSide()); // the environment is set above
            long fd = ((Number) e.getAttr("interrupt_fd", PyCallable.class).call()).longValue();
            String version = (String) interp.getValue("__import__('platform').python_version()");
            return new Object[] {e, fd, version};
        }, null);
        this.entry = (PyObject) made[0];
        this.pythonVersion = (String) made[2];
        try {
            this.interruptPipe = FileChannel.open(Path.of("/proc/self/fd/" + made[1]), StandardOpenOption.WRITE);
        } catch (IOException e) {
            close();
            throw new EngineException(ErrorKind.ENGINE_START, "cannot open the embedded engine's interrupt pipe: " + e, e);
        }
        this.callSeq = python.submit(() -> entry.getAttr("call_seq", PyCallable.class), null);
    }

    private static String pyString(String s) {
        try {
            return Json.MAPPER.writeValueAsString(s); // a JSON string literal is a valid Python one
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Start an embedded engine with the venv that {@link PythonEnv} makes (JEP is built into it),
     * or fail at once with an {@link EngineException} ENGINE_START that names what is missing and
     * the worker engine as the alternative.
     */
    public static EmbeddedEngine start(EngineOptions options, CallbackHandler callbacks) {
        EmbeddedSetup.requireJepJar();
        PythonEnv env = PythonEnv.ensure(options.home(), options.python(), options::logLine);
        Path bridge = options.bridgeDir() != null ? options.bridgeDir() : env.bridgePath();
        PythonThread.Setup setup = EmbeddedSetup.locate(env.venv(), env.python(), bridge);
        PythonThread thread;
        try {
            thread = PythonThread.get(setup, options::logLine);
        } catch (UnsatisfiedLinkError | EngineException e) {
            throw e instanceof EngineException ee ? ee : EmbeddedSetup.loadFailure(setup, e);
        } catch (Error e) {
            throw EmbeddedSetup.loadFailure(setup, e);
        }
        try {
            return new EmbeddedEngine(options, callbacks, thread);
        } catch (LensException e) {
            throw new EngineException(ErrorKind.ENGINE_START, "the embedded engine started Python but not the bridge ("
                    + bridge + "): " + e.getMessage() + ". Use the worker engine (LENS4J_ENGINE=worker).", e);
        }
    }

    // ------------------------------------------------------------------ calls

    @Override
    public Reply call(String op, Map<String, ?> args, List<Blob> blobs, ProgressListener listener) {
        // Blobs in the result buffer are views this thread's next call overwrites: the caller gets copies.
        Reply reply = exchange(op, args, blobs, listener);
        return new Reply(reply.value(), reply.blobs().stream().map(b -> b.data().isDirect() ? b.copy() : b).toList());
    }

    /** {@code read} runs on this thread before its next call can reuse the result buffer. */
    @Override
    public <T> T callAndRead(String op, Map<String, ?> args, List<Blob> blobs, ProgressListener listener, Function<Reply, T> read) {
        return read.apply(exchange(op, args, blobs, listener));
    }

    private Reply exchange(String op, Map<String, ?> args, List<Blob> blobs, ProgressListener listener) {
        ensureAlive();
        String argsJson;
        String metasJson;
        try {
            argsJson = Json.MAPPER.writeValueAsString(args);
            metasJson = Json.MAPPER.writeValueAsString(blobs.stream().map(EmbeddedEngine::meta).toList());
        } catch (JsonProcessingException e) {
            throw LensException.of(ErrorKind.BAD_ARGUMENT, op + ": arguments cannot be written as JSON: " + e.getOriginalMessage(),
                    null, null, e);
        }
        if (python.isCurrent()) {
            // nested (from a callback): inline, no deadline of its own, and fresh buffers, since the
            // outer call's arguments may still be read from the shared one
            Object[] buffers = new Object[blobs.size()];
            for (int i = 0; i < buffers.length; i++) {
                buffers[i] = direct(blobs.get(i));
            }
            return callHere(op, argsJson, metasJson, buffers, listener, 0, resultArenas.get());
        }
        long seq = SEQ.incrementAndGet();
        ByteBuffer[] arena = resultArenas.get();
        return python.submit(() -> {
            Object[] buffers = packArguments(blobs);
            interruptCause = null;
            ScheduledFuture<?> timeout = options.callTimeout() == null ? null
                    : WATCHDOG.schedule(() -> interrupt(seq, ErrorKind.TIMEOUT), options.callTimeout().toMillis(), TimeUnit.MILLISECONDS);
            try {
                return callHere(op, argsJson, metasJson, buffers, listener, seq, arena);
            } finally {
                if (timeout != null) {
                    timeout.cancel(false);
                }
            }
        }, () -> interrupt(seq, ErrorKind.INTERRUPTED));
    }

    /** Runs on the Python thread. {@code seq} 0 is a nested call. */
    private Reply callHere(String op, String argsJson, String metasJson, Object[] buffers, ProgressListener listener, long seq,
                           ByteBuffer[] arena) {
        ensureAlive();
        progress.push(listener != null ? listener : (done, total, message) -> { });
        ByteBuffer[] outer = results;
        results = arena;
        try {
            flushReleases();
            @SuppressWarnings("unchecked")
            List<Object> answer = (List<Object>) callSeq.call(seq, op, argsJson, metasJson, buffers);
            rethrowFatal();
            JsonNode result = Json.MAPPER.readTree((String) answer.get(0));
            if (result.has("error")) {
                LensException error = errorOf(op, result.get("error"));
                throw seq != 0 && interruptCause != null ? interrupted(op, error) : error;
            }
            return new Reply(result.path("value"), fromPython(result.path("blobs"), (List<?>) answer.get(1), arena[0]));
        } catch (JepException e) {
            rethrowFatal();
            if (seq != 0 && interruptCause != null) {
                throw interrupted(op, e);
            }
            throw LensException.of(ErrorKind.PYTHON_ERROR, op + ": " + e.getMessage(), "JepException", null, e);
        } catch (JsonProcessingException e) {
            throw new EngineException(ErrorKind.ENGINE_DIED, op + ": the embedded bridge answered no JSON: " + e, e);
        } finally {
            results = outer;
            progress.pop();
        }
    }

    private EngineException interrupted(String op, Throwable cause) {
        ErrorKind kind = interruptCause;
        interruptCause = null;
        String why = kind == ErrorKind.TIMEOUT
                ? "timed out after " + options.callTimeout().toMillis() + " ms and was interrupted"
                : "was interrupted (Thread.interrupt of the waiting caller)";
        return new EngineException(kind, op + " " + why + "; the embedded engine runs on and takes the next call", cause);
    }

    /** From the watchdog or an interrupted caller: makes call {@code seq} raise in Python, if it still runs. */
    private void interrupt(long seq, ErrorKind cause) {
        if (interruptCause == null) {
            interruptCause = cause;
        }
        ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, seq);
        try {
            synchronized (interruptPipe) {
                interruptPipe.write(b);
            }
        } catch (IOException e) {
            options.logLine("lens4j: could not interrupt the embedded call: " + e);
        }
    }

    private static Map<String, Object> meta(Blob blob) {
        return Map.of("dtype", blob.dtype(), "shape", blob.shape());
    }

    /** On the Python thread: the blobs of an outer call, direct ones as they are, the rest packed into {@link #arguments}. */
    private Object[] packArguments(List<Blob> blobs) {
        long need = 0;
        for (Blob b : blobs) {
            if (!b.data().isDirect()) {
                need += b.nbytes();
            }
        }
        if (need > arguments.capacity()) {
            arguments = ByteBuffer.allocateDirect((int) Math.min(Integer.MAX_VALUE - 8, Math.max(need, 2L * arguments.capacity())));
        }
        Object[] buffers = new Object[blobs.size()];
        int offset = 0;
        for (int i = 0; i < buffers.length; i++) {
            ByteBuffer data = blobs.get(i).data();
            if (data.isDirect()) {
                buffers[i] = data;
            } else {
                int n = data.remaining();
                ByteBuffer slot = arguments.slice(offset, n);
                slot.put(data).flip();
                buffers[i] = slot;
                offset += n;
            }
        }
        return buffers;
    }

    /** A blob's bytes as a direct buffer, which Python reads in place: as it is when already direct. */
    private static ByteBuffer direct(Blob blob) {
        ByteBuffer data = blob.data();
        if (data.isDirect()) {
            return data;
        }
        ByteBuffer copy = ByteBuffer.allocateDirect(data.remaining());
        copy.put(data).flip();
        return copy;
    }

    /** Result blobs: views into the arena at the offsets Python wrote them to (or byte[] views where it sent those). */
    private static List<Blob> fromPython(JsonNode metas, List<?> views, ByteBuffer arena) {
        List<Blob> blobs = new ArrayList<>(metas.size());
        for (int i = 0; i < metas.size(); i++) {
            JsonNode m = metas.get(i);
            if (m.has("offset")) {
                blobs.add(new Blob(m.path("dtype").asText(), shapeOf(m), arena.slice(m.path("offset").asInt(), m.path("nbytes").asInt())));
            } else {
                blobs.add(blobOf(m, views.get(i)));
            }
        }
        return blobs;
    }

    private static long[] shapeOf(JsonNode m) {
        long[] shape = new long[m.path("shape").size()];
        for (int d = 0; d < shape.length; d++) {
            shape[d] = m.path("shape").get(d).asLong();
        }
        return shape;
    }

    private static Blob blobOf(JsonNode m, Object view) {
        long[] shape = shapeOf(m);
        byte[] bytes;
        if (view instanceof byte[] b) {
            bytes = b;
        } else if (view == null && m.path("nbytes").asLong() == 0) {
            bytes = new byte[0];
        } else {
            throw new EngineException(ErrorKind.ENGINE_DIED, "the embedded bridge sent a blob as "
                    + (view == null ? "null" : view.getClass().getName()) + ", expected byte[]", null);
        }
        return new Blob(m.path("dtype").asText(), shape, ByteBuffer.wrap(bytes));
    }

    private LensException errorOf(String op, JsonNode error) {
        LensException e = WireErrors.toException(op, error, callbackFailure);
        if (e.getCause() != null && e.getCause() == callbackFailure) {
            callbackFailure = null; // reported once, with the error it caused
        }
        return e;
    }

    private void rethrowFatal() {
        Error e = fatal;
        if (e != null) {
            fatal = null;
            throw e;
        }
    }

    private void ensureAlive() {
        if (!alive) {
            throw new EngineException(ErrorKind.ENGINE_DIED, "this embedded engine is closed; Lens.restart() starts a new one", null);
        }
    }

    // ------------------------------------------------------------------ Python -> Java

    /** What Python calls: on the Python thread, inside an op. Public for JEP's reflection. */
    public final class JavaSide {
        public String callback(String name, String argsJson, String metasJson, List<?> datas) {
            try {
                JsonNode args = Json.MAPPER.readTree(argsJson);
                JsonNode metas = Json.MAPPER.readTree(metasJson);
                List<Blob> blobs = new ArrayList<>(metas.size());
                for (int i = 0; i < metas.size(); i++) {
                    blobs.add(blobOf(metas.get(i), datas.get(i)));
                }
                Object value = callbacks.onCallback(name, args, blobs);
                return Json.MAPPER.writeValueAsString(Map.of("value", value == null ? Json.MAPPER.nullNode() : value));
            } catch (Exception | Error e) {
                if (e instanceof Error err && !(err instanceof AssertionError) && !(err instanceof StackOverflowError)) {
                    fatal = err; // thrown to the caller once the op has unwound (its hooks come off the model)
                }
                callbackFailure = e;
                try {
                    return Json.MAPPER.writeValueAsString(Map.of("error",
                            Map.of("message", String.valueOf(e.getMessage()), "type", e.getClass().getName())));
                } catch (JsonProcessingException je) {
                    return "{\"error\":{\"message\":\"callback failed\"}}";
                }
            }
        }

        /** The result arena, at least {@code nbytes} long: grown (doubling) when too small. */
        public ByteBuffer arena(long nbytes) {
            if (nbytes > Integer.MAX_VALUE - 8) {
                throw new LensException(ErrorKind.OUT_OF_MEMORY, "a result of " + nbytes + " bytes is over the 2 GiB a Java"
                        + " buffer holds; read it in slices (Tensor.slice)", null, null, null);
            }
            ByteBuffer current = results[0];
            if (current.capacity() < nbytes) {
                results[0] = ByteBuffer.allocateDirect((int) Math.min(Integer.MAX_VALUE - 8, Math.max(nbytes, 2L * current.capacity())));
            }
            return results[0];
        }

        public void progress(long done, long total, String message) {
            ProgressListener l = progress.peek();
            if (l != null) {
                l.onProgress(done, total, message);
            }
        }
    }

    // ------------------------------------------------------------------ releases

    @Override
    public void release(long[] handles, boolean now) {
        for (long h : handles) {
            pendingReleases.add(h);
        }
        if (now && alive) {
            // From the Cleaner's or any other thread: queued to the Python thread, never run here.
            python.post(this::flushReleasesQuietly);
        }
    }

    private void flushReleasesQuietly() {
        if (alive) {
            try {
                flushReleases();
            } catch (JepException e) {
                options.logLine("lens4j: embedded release failed: " + e);
            }
        }
    }

    /** On the Python thread. */
    private void flushReleases() throws JepException {
        if (pendingReleases.isEmpty()) {
            return;
        }
        List<Long> batch = new ArrayList<>();
        Long h;
        while ((h = pendingReleases.poll()) != null) {
            batch.add(h);
        }
        entry.getAttr("release", PyCallable.class).call(batch.stream().mapToLong(Long::longValue).toArray());
    }

    // ------------------------------------------------------------------ the rest

    @Override
    public boolean isAlive() {
        return alive;
    }

    @Override
    public String describe() {
        return "embedded engine (CPython " + pythonVersion + " in this JVM through JEP " + JEP_VERSION + ", pid "
                + ProcessHandle.current().pid() + ", venv " + python.setup.venvPython().getParent().getParent() + ")";
    }

    @Override
    public void close() {
        if (!alive && entry == null) {
            return;
        }
        alive = false;
        try {
            python.submit(() -> {
                if (entry != null) {
                    entry.getAttr("close", PyCallable.class).call();
                    if (callSeq != null) {
                        callSeq.close();
                    }
                    entry.close();
                }
                return null;
            }, null);
        } catch (RuntimeException e) {
            options.logLine("lens4j: closing the embedded engine: " + e);
        } finally {
            entry = null;
            callSeq = null;
            if (interruptPipe != null) {
                try {
                    interruptPipe.close();
                } catch (IOException ignored) {
                    // the pipe's Python end is closed by the entry
                }
            }
        }
    }
}
