package org.lens4j.engine.graalpy;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import org.graalvm.polyglot.Context;
import org.graalvm.polyglot.PolyglotException;
import org.graalvm.polyglot.Value;
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
import org.lens4j.engine.worker.BundledPython;

/**
 * The in-process engine: a GraalPy {@link Context} that imports the same {@code lens4j_bridge} as
 * the worker and runs its ops through {@code Session.dispatch} directly, with no framing and no
 * socket ({@code lens4j_bridge/graalpy_entry.py} is the door).
 *
 * <p>Values cross as JSON text, as in the worker's frames: Jackson writes the arguments, Python's
 * {@code json} writes the result after {@code values.encode}. Result blobs reach Java through the
 * buffer protocol (one bulk read into an exactly-sized array, or the Java array behind an
 * immutable {@code bytes} as it is); argument blobs are copied into the Java array behind a fresh
 * {@code bytearray}. Java callbacks reach Python as a host object wrapped in Python lambdas.
 *
 * <p>Calls are serialized and nest as in the worker: a callback runs on the calling thread and
 * may call again. A Python {@code os._exit}, a cancelled context or an internal error ends the
 * engine with an {@link EngineException}; the JVM lives on.
 *
 * <p>Without a GraalPy venv that holds a GraalPy-built torch, only the torch-free ops run;
 * {@link org.lens4j.internal.Engines#start} with {@code GRAALPY} refuses such an engine at start, saying why.
 *
 * <pre>{@code
 * try (GraalPyEngine e = GraalPyEngine.start(EngineOptions.defaults(), CallbackHandler.NONE, GraalPySettings.none())) {
 *     System.out.println(e.call("bridge.echo", Map.of("value", 42), List.of(), null).value()); // {"value":42,"blobs":[]}
 * }
 * }</pre>
 */
public final class GraalPyEngine implements Engine {
    /** What TransformerLens needs on top of the bridge, in import order. */
    public static final List<String> TRANSFORMER_LENS_MODULES = List.of("torch", "transformer_lens");

    private static final ScheduledExecutorService WATCHDOG = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "lens4j-graalpy-watchdog");
        t.setDaemon(true);
        return t;
    });

    private final EngineOptions options;
    private final GraalPyRuntime runtime;
    private final GraalPySettings settings;
    private final CallbackHandler callbacks;
    private final Context context;
    private final Value entry;
    private final Value allocate;
    private final ReentrantLock lock = new ReentrantLock();
    private final ConcurrentLinkedQueue<Long> pendingReleases = new ConcurrentLinkedQueue<>();
    private final Deque<ProgressListener> progress = new ArrayDeque<>();
    private final String graalPyVersion;
    private final String pythonVersion;
    private volatile boolean alive = true;
    private volatile ErrorKind deathCause;
    private Throwable callbackFailure;
    private Throwable fatal;

    private GraalPyEngine(EngineOptions options, GraalPyRuntime runtime, GraalPySettings settings,
                          CallbackHandler callbacks, Context context) {
        this.options = options;
        this.runtime = runtime;
        this.settings = settings;
        this.callbacks = callbacks;
        this.context = context;
        Value module = context.eval("python", "import lens4j_bridge.graalpy_entry as m; m");
        this.entry = module.getMember("Entry").execute(new JavaSide());
        this.allocate = module.getMember("Entry").getMember("allocate");
        this.graalPyVersion = context.eval("python", "import __graalpython__; __graalpython__.get_graalvm_version()").asString();
        this.pythonVersion = context.eval("python", "import platform; platform.python_version()").asString();
    }

    /**
     * Start a GraalPy context with the bridge (and the venv's packages, when {@code settings} names
     * one). Runs the torch-free ops whatever the venv holds; {@link #missingModules} says whether
     * TransformerLens can run.
     */
    public static GraalPyEngine start(EngineOptions options, CallbackHandler callbacks, GraalPySettings settings) {
        GraalPyRuntime runtime = GraalPyRuntime.shared(options::logLine);
        if (settings.venv() != null) {
            checkVenv(runtime, settings.venv());
        }
        Path bridge = options.bridgeDir() != null ? options.bridgeDir() : BundledPython.locate(options.home());
        Context.Builder builder = Context.newBuilder("python")
                .engine(runtime.engine())
                // The bridge is lens4j's own code and torch is a native extension: this context is
                // no sandbox, as the worker process is none.
                .allowAllAccess(true)
                .option("python.PythonPath", bridge.toString())
                // Cache GraalPy's compiled bytecode between JVM runs: its start is mostly imports.
                .option("python.DontWriteBytecodeFlag", "false")
                .option("python.PyCachePrefix", options.home().resolve("graalpy").resolve("pycache").toString());
        if (settings.venv() != null) {
            // As GraalPyResources.contextBuilder(dir) does: sys.executable inside the venv, and
            // site imported, which reads pyvenv.cfg and adds the venv's site-packages.
            builder.option("python.Executable", settings.executable().toString())
                    .option("python.ForceImportSite", "true")
                    .option("python.PosixModuleBackend", "native");
        }
        Context context = null;
        try {
            context = builder.build();
            return new GraalPyEngine(options, runtime, settings, callbacks, context);
        } catch (PolyglotException | IllegalArgumentException | IllegalStateException e) {
            if (context != null) {
                context.close(true);
            }
            throw new EngineException(ErrorKind.ENGINE_START, "could not start the GraalPy engine (GraalPy "
                    + runtime.graalPyVersion() + ", bridge " + bridge + "): " + e.getMessage(), e);
        }
    }

    /**
     * Start a GraalPy engine that runs TransformerLens, or fail at once with an
     * {@link EngineException} ({@code ENGINE_START}) that names the missing module, the GraalPy
     * version, the upstream status and the worker engine as the alternative. Without a venv this
     * fails before any context starts: the embedded GraalPy holds the standard library only.
     */
    public static GraalPyEngine startForTransformerLens(EngineOptions options, CallbackHandler callbacks,
                                                        GraalPySettings settings) {
        GraalPyRuntime runtime = GraalPyRuntime.shared(options::logLine);
        if (settings.venv() == null) {
            throw unavailable(runtime, "torch", "no GraalPy venv is configured (" + GraalPySettings.VENV_ENV
                    + "), and the GraalPy embedded in lens4j holds only Python's standard library");
        }
        GraalPyEngine engine = start(options, callbacks, settings);
        try {
            engine.requireTransformerLens();
            return engine;
        } catch (RuntimeException e) {
            engine.close();
            throw e;
        }
    }

    /** Throws the engine-start failure that names the first module of TransformerLens that this context cannot import. */
    public void requireTransformerLens() {
        Map<String, String> missing = missingModules(TRANSFORMER_LENS_MODULES);
        if (!missing.isEmpty()) {
            Map.Entry<String, String> first = missing.entrySet().iterator().next();
            String where = settings.venv() == null ? "with no GraalPy venv configured (" + GraalPySettings.VENV_ENV + ")"
                    : "in the GraalPy venv " + settings.venv();
            throw unavailable(runtime, first.getKey(), first.getValue() + ", " + where);
        }
    }

    /**
     * Import each module in this context; returns those that failed, in order, with the reason.
     * A module found but built for CPython is reported without being loaded.
     */
    public Map<String, String> missingModules(List<String> modules) {
        lock.lock();
        try {
            ensureAlive();
            JsonNode report = Json.MAPPER.readTree(entry.invokeMember("probe", (Object) modules.toArray()).asString());
            Map<String, String> failed = new LinkedHashMap<>();
            report.path("failed").properties().forEach(e -> failed.put(e.getKey(), e.getValue().asText()));
            return failed;
        } catch (JsonProcessingException e) {
            throw new EngineException(ErrorKind.ENGINE_DIED, "the GraalPy engine's import probe answered no JSON: " + e, e);
        } catch (PolyglotException e) {
            throw failure("probe", e);
        } finally {
            lock.unlock();
        }
    }

    private static EngineException unavailable(GraalPyRuntime runtime, String module, String reason) {
        return new EngineException(ErrorKind.ENGINE_START,
                "the GraalPy engine cannot run TransformerLens: GraalPy " + runtime.graalPyVersion()
                        + " (Python " + runtime.pythonVersion() + ") cannot import " + module + " (" + reason + "). "
                        + "PyTorch publishes no GraalPy build (PyPI has no GraalPy wheel and no source release of torch):"
                        + " torch must be built from source with GraalPy's patches (GraalPy 25.0 carries them up to torch 2.7.0),"
                        + " and a patched torch 2.7 segfaults on Linux x86_64 under GraalPy 25.0.1 (oracle/graalpython#589). "
                        + "Use the worker engine, which runs TransformerLens in a CPython process: LENS4J_ENGINE=worker,"
                        + " or EngineOptions.withEngine(Kind.WORKER) (AUTO picks it by itself). To try GraalPy anyway, point "
                        + GraalPySettings.VENV_ENV + " at a GraalPy venv that holds a GraalPy-built torch"
                        + " (venv-spec/graalpy/README.md).", null);
    }

    private static void checkVenv(GraalPyRuntime runtime, Path venv) {
        if (!Files.isRegularFile(venv.resolve("pyvenv.cfg"))) {
            throw new EngineException(ErrorKind.ENGINE_START, "the GraalPy venv " + venv + " (" + GraalPySettings.VENV_ENV
                    + ") is not a virtual environment: it has no pyvenv.cfg. Make one with GraalPy " + runtime.graalPyVersion()
                    + ": graalpy -m venv " + venv + " (venv-spec/graalpy/README.md), or unset " + GraalPySettings.VENV_ENV
                    + " and use the worker engine (LENS4J_ENGINE=worker).", null);
        }
    }

    // ------------------------------------------------------------------ calls

    @Override
    public Reply call(String op, Map<String, ?> args, List<Blob> blobs, ProgressListener listener) {
        lock.lock();
        try {
            ensureAlive();
            String argsJson = Json.MAPPER.writeValueAsString(args);
            String metasJson = Json.MAPPER.writeValueAsString(blobs.stream().map(GraalPyEngine::meta).toList());
            ScheduledFuture<?> timeout = progress.isEmpty() && options.callTimeout() != null
                    ? WATCHDOG.schedule(() -> die(ErrorKind.TIMEOUT), options.callTimeout().toMillis(), TimeUnit.MILLISECONDS)
                    : null;
            progress.push(listener != null ? listener : (done, total, message) -> { });
            try {
                flushReleases();
                Object[] buffers = new Object[blobs.size()];
                for (int i = 0; i < buffers.length; i++) {
                    buffers[i] = toPython(blobs.get(i));
                }
                Value answer = entry.invokeMember("call", op, argsJson, metasJson, buffers);
                rethrowFatal();
                JsonNode result = Json.MAPPER.readTree(answer.getArrayElement(0).asString());
                if (result.has("error")) {
                    throw errorOf(op, result.get("error"));
                }
                return new Reply(result.path("value"), fromPython(result.path("blobs"), answer.getArrayElement(1)));
            } catch (PolyglotException e) {
                throw failure(op, e);
            } finally {
                progress.pop();
                if (timeout != null) {
                    timeout.cancel(false);
                }
            }
        } catch (JsonProcessingException e) {
            throw LensException.of(ErrorKind.BAD_ARGUMENT, op + ": arguments cannot be written as JSON: " + e.getOriginalMessage(),
                    null, null, e);
        } finally {
            lock.unlock();
        }
    }

    private static Map<String, Object> meta(Blob blob) {
        return Map.of("dtype", blob.dtype(), "shape", blob.shape());
    }

    /** A Java blob as a Python bytearray: one arraycopy into the Java array behind it where GraalPy has one. */
    private Value toPython(Blob blob) {
        int n = blob.nbytes();
        Value pair = allocate.execute(n);
        Value buffer = pair.getArrayElement(0);
        Value storage = pair.getArrayElement(1);
        ByteBuffer data = blob.data();
        if (storage.isHostObject() && storage.asHostObject() instanceof byte[] array && array.length >= n) {
            data.get(array, 0, n);
            return buffer;
        }
        // The polyglot API writes buffers a primitive at a time: eight bytes per call.
        data.order(ByteOrder.LITTLE_ENDIAN);
        int i = 0;
        for (; i + 8 <= n; i += 8) {
            buffer.writeBufferLong(ByteOrder.LITTLE_ENDIAN, i, data.getLong(i));
        }
        for (; i < n; i++) {
            buffer.writeBufferByte(i, data.get(i));
        }
        return buffer;
    }

    /** Result blobs: each Python view read in one bulk read into an array of exactly its size. */
    private static List<Blob> fromPython(JsonNode metas, Value views) {
        List<Blob> blobs = new ArrayList<>(metas.size());
        for (int i = 0; i < metas.size(); i++) {
            JsonNode m = metas.get(i);
            long[] shape = new long[m.path("shape").size()];
            for (int d = 0; d < shape.length; d++) {
                shape[d] = m.path("shape").get(d).asLong();
            }
            blobs.add(new Blob(m.path("dtype").asText(), shape, ByteBuffer.wrap(bytesOf(views.getArrayElement(i), m.path("nbytes").asLong()))));
        }
        return blobs;
    }

    private static byte[] bytesOf(Value view, long nbytes) {
        if (view.isHostObject() && view.asHostObject() instanceof byte[] array && array.length == nbytes) {
            return array; // the array behind an immutable Python bytes: nothing can change it
        }
        if (nbytes > Integer.MAX_VALUE - 8) {
            throw new LensException(ErrorKind.OUT_OF_MEMORY, "a blob of " + nbytes + " bytes is over the 2 GiB a Java array holds;"
                    + " send it in slices (Tensor.slice) or use the worker engine");
        }
        byte[] out = new byte[(int) nbytes];
        // GraalPy checks the whole range against the buffer's size: read exactly nbytes.
        view.readBuffer(0, out, 0, out.length);
        return out;
    }

    private LensException errorOf(String op, JsonNode error) {
        LensException e = WireErrors.toException(op, error, callbackFailure);
        if (e.getCause() != null && e.getCause() == callbackFailure) {
            callbackFailure = null; // reported once, with the error it caused
        }
        return e;
    }

    /** A failure of the context itself (exit, cancel, internal error) or a Python error that escaped the entry. */
    private LensException failure(String op, PolyglotException e) {
        rethrowFatal();
        if (e.isHostException() && e.asHostException() instanceof LensException le) {
            return le;
        }
        if (e.isExit() || e.isCancelled() || e.isInternalError() || e.isResourceExhausted() || deathCause != null) {
            ErrorKind kind = deathCause != null ? deathCause : ErrorKind.ENGINE_DIED;
            die(kind);
            String why = switch (kind) {
                case TIMEOUT -> "timed out after " + options.callTimeout().toMillis() + " ms; the GraalPy context was cancelled";
                default -> e.isExit() ? "ended the GraalPy context: Python exited with status " + e.getExitStatus()
                        : "stopped the GraalPy context: " + e.getMessage();
            };
            return new EngineException(kind, op + " " + why + ". Lens.restart() starts a new one.", e);
        }
        return LensException.of(ErrorKind.PYTHON_ERROR, op + ": " + e.getMessage(), "PolyglotException", String.valueOf(e.getSourceLocation()), e);
    }

    private void rethrowFatal() {
        Throwable t = fatal;
        if (t != null) {
            fatal = null;
            if (t instanceof RuntimeException re) {
                throw re;
            }
            throw (Error) t;
        }
    }

    private void die(ErrorKind cause) {
        if (deathCause == null) {
            deathCause = cause;
        }
        if (alive) {
            alive = false;
            try {
                context.close(true); // from the watchdog thread this cancels the running call
            } catch (RuntimeException ignored) {
                // already closing
            }
        }
    }

    private void ensureAlive() {
        if (!alive) {
            throw new EngineException(ErrorKind.ENGINE_DIED, "this GraalPy engine has stopped"
                    + (deathCause == null ? "" : " (" + deathCause + ")") + "; Lens.restart() starts a new one", null);
        }
    }

    // ------------------------------------------------------------------ releases

    @Override
    public void release(long[] handles, boolean now) {
        for (long h : handles) {
            pendingReleases.add(h);
        }
        if (now && alive && lock.tryLock()) {
            try {
                flushReleases();
            } catch (PolyglotException e) {
                throw failure("release", e);
            } finally {
                lock.unlock();
            }
        }
    }

    private void flushReleases() {
        if (pendingReleases.isEmpty()) {
            return;
        }
        List<Long> batch = new ArrayList<>();
        Long h;
        while ((h = pendingReleases.poll()) != null) {
            batch.add(h);
        }
        entry.invokeMember("release", batch.stream().mapToLong(Long::longValue).toArray());
    }

    // ------------------------------------------------------------------ the rest

    @Override
    public boolean isAlive() {
        return alive;
    }

    @Override
    public String describe() {
        return "GraalPy engine (GraalPy " + graalPyVersion + ", Python " + pythonVersion + ", " + runtime.mode()
                + ", in-process, " + (settings.venv() == null ? "no venv: standard library only" : "venv " + settings.venv()) + ")";
    }

    /** GraalPy's release, as the running context reports it (such as "25.0.3"). */
    public String graalPyVersion() {
        return graalPyVersion;
    }

    /** Whether the Graal JIT compiles this engine's Python (false: Truffle's interpreter only). */
    public boolean compiled() {
        return runtime.compiled();
    }

    @Override
    public void close() {
        boolean locked = false;
        try {
            locked = lock.tryLock(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            if (alive) {
                alive = false;
                // Cancel rather than close politely: a polite close from another thread (a shutdown
                // hook, a Cleaner) runs Python's threading shutdown, which waits for the thread that
                // made the calls, and that thread may be the one waiting for the hook: a deadlock.
                context.close(true);
            }
        } catch (PolyglotException | IllegalStateException ignored) {
            // a context cancelled or exited earlier is closed already
        } finally {
            if (locked) {
                lock.unlock();
            }
        }
    }

    /**
     * What Python sees of Java: callbacks and progress. Python wraps both methods in lambdas
     * and calls them positionally (GraalPy passes no keyword arguments to Java).
     */
    public final class JavaSide {
        private JavaSide() {
        }

        /** Run the Java callback; answers {@code {"value": v}} or {@code {"error": {...}}} as JSON. */
        public String callback(String name, String argsJson, String metasJson, Value views) {
            ObjectNode answer = Json.MAPPER.createObjectNode();
            try {
                JsonNode args = Json.MAPPER.readTree(argsJson);
                List<Blob> blobs = fromPython(Json.MAPPER.readTree(metasJson), views);
                Object value = callbacks.onCallback(name, args, blobs);
                answer.set("value", Json.MAPPER.valueToTree(value));
            } catch (Throwable t) {
                boolean engineGone = t instanceof EngineException
                        || (t instanceof Error && !(t instanceof AssertionError) && !(t instanceof StackOverflowError));
                if (engineGone) {
                    fatal = t; // thrown once Python has unwound: nothing in Python may catch it
                } else {
                    callbackFailure = t;
                }
                answer.putObject("error").put("message", String.valueOf(t.getMessage())).put("type", t.getClass().getName());
            }
            try {
                return Json.MAPPER.writeValueAsString(answer);
            } catch (JsonProcessingException e) {
                callbackFailure = e;
                return "{\"error\":{\"message\":\"the callback's answer cannot be written as JSON\"}}";
            }
        }

        public void progress(long done, long total, String message) {
            ProgressListener listener = progress.peek();
            if (listener != null) {
                listener.onProgress(done, total, message);
            }
        }
    }
}
