package org.lens4j;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.WeakHashMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import org.lens4j.engine.Engine;
import org.lens4j.engine.Reply;
import org.lens4j.internal.Args;
import org.lens4j.internal.Engines;
import org.lens4j.internal.LensAccess;
import org.lens4j.internal.Ops;
import org.lens4j.internal.Tensors;

/**
 * lens4j's entry point: starts an engine that runs the real TransformerLens, loads models,
 * and owns every handle made through it.
 *
 * <pre>{@code
 * try (Lens lens = Lens.start()) {                       // builds the Python venv on first use
 *     Model model = lens.load("toy-ioi");                // a bundled model; or "gpt2", or Path.of("my-hf-dir")
 *     Run run = model.runWithCache("When John and Mary went to the shops, John gave the bag to");
 *     System.out.println(run.cache().get("pattern", 0)); // Tensor[float32 [1, 4, 15, 15] cpu] ...
 * }
 * }</pre>
 *
 * <p>One Lens serves many threads: calls are serialized on its engine.
 */
public final class Lens implements AutoCloseable {
    static {
        LensAccess.open(new Door());
    }

    private final EngineOptions options;
    private volatile Engine engine;
    private volatile long epoch = 1;
    private final ThreadLocal<Deque<Scope>> scopes = ThreadLocal.withInitial(ArrayDeque::new);
    private final Map<Long, Ops.Callback> callbacks = new ConcurrentHashMap<>();
    private final Map<String, Ops.Callback> namedCallbacks = new ConcurrentHashMap<>();
    private final AtomicLong callbackIds = new AtomicLong();
    /** The epoch of this thread's latest call: the engine that made the handles in its result. */
    private final ThreadLocal<long[]> callEpoch = ThreadLocal.withInitial(() -> new long[1]);
    /** How each model was loaded, for {@link #reload(Model)}. */
    private final Map<Model, Map<String, ?>> loadArgs = new WeakHashMap<>();
    private volatile boolean closed;

    private Lens(EngineOptions options) {
        this.options = options;
        this.engine = startEngine();
    }

    /** Start with the defaults (and the LENS4J_* environment variables). */
    public static Lens start() {
        return start(EngineOptions.defaults());
    }

    public static Lens start(EngineOptions options) {
        return new Lens(Objects.requireNonNull(options, "options"));
    }

    /** WORKER, GRAALPY (only where GraalPy imports torch and transformer_lens), or AUTO: see {@link Engines}. */
    private Engine startEngine() {
        return Engines.start(options, this::dispatchCallback);
    }

    public EngineOptions options() {
        return options;
    }

    private Engine engine() {
        ensureOpen();
        return engine;
    }

    long epoch() {
        return epoch;
    }

    /**
     * The epoch a handle made now on this thread belongs to: that of the call whose result
     * names it (this thread's latest), not the current one, so that a result that arrives
     * from an old engine while another thread restarts the Lens never passes for a new handle.
     */
    long handleEpoch() {
        long e = callEpoch.get()[0];
        return e != 0 ? e : epoch;
    }

    // -- models -----------------------------------------------------------------------

    /**
     * Load a model: a bundled model ("toy-ioi", "toy-induction"), a local Hugging Face
     * directory, or a hub name such as "gpt2" (needs network and {@code EngineOptions.withOffline(false)}).
     */
    public Model load(String nameOrPath) {
        return load(nameOrPath, LoadOptions.defaults());
    }

    public Model load(Path directory) {
        return load(directory, LoadOptions.defaults());
    }

    public Model load(Path directory, LoadOptions load) {
        Objects.requireNonNull(directory, "directory");
        if (!Files.isDirectory(directory)) {
            throw new InvalidInputException(ErrorKind.UNKNOWN_MODEL, "no model directory at " + directory.toAbsolutePath(), null, null);
        }
        return load(directory.toAbsolutePath().toString(), load);
    }

    public Model load(String nameOrPath, LoadOptions load) {
        Objects.requireNonNull(nameOrPath, "nameOrPath");
        Objects.requireNonNull(load, "load");
        if (nameOrPath.isBlank()) {
            throw new InvalidInputException("the model name is empty; bundled models: " + bundledModels());
        }
        Args args = Args.of("name", nameOrPath, "device", load.device() != null ? load.device() : options.device(),
                "dtype", load.dtype().wireName(), "compatibility_mode", load.compatibilityMode(),
                "fold_ln", load.foldLn(), "center_writing_weights", load.centerWritingWeights(),
                "center_unembed", load.centerUnembed(), "fold_value_biases", load.foldValueBiases(),
                "refactor_factored_attn_matrices", load.refactorFactoredAttnMatrices(),
                "n_devices", load.nDevices(), "device_map", load.deviceMap(),
                "torch_weights_only", load.torchWeightsOnly() ? Boolean.TRUE : null); // absent: the worker's LENS4J_TORCH_WEIGHTS_ONLY decides
        return loaded(args.map());
    }

    private Model loaded(Map<String, ?> args) {
        Model model = new Model(this, call("model.load", args, List.of(), null).value());
        synchronized (loadArgs) {
            loadArgs.put(model, args);
        }
        return model;
    }

    /**
     * Load a model again, as it was loaded before, in the current engine: after {@link #restart()}
     * (or a crash) the old {@link Model} is closed, and this gives its replacement.
     *
     * <pre>{@code
     * try { run(model); }
     * catch (EngineException e) { lens.restart(); model = lens.reload(model); run(model); }
     * }</pre>
     *
     * @throws InvalidInputException for a model not loaded by this Lens's {@code load} (a random model cannot be remade)
     */
    public Model reload(Model model) {
        Objects.requireNonNull(model, "model");
        Map<String, ?> args;
        synchronized (loadArgs) {
            args = model.lens() == this ? loadArgs.get(model) : null;
        }
        if (args == null) {
            throw new InvalidInputException("only a model loaded by this Lens's load(...) can be reloaded; " + model
                    + " was not (a random model's weights cannot be remade: build it again)");
        }
        return loaded(args);
    }

    /**
     * A randomly initialized TransformerLens-native model from a config (boot_native), e.g.
     * {@code Map.of("n_layers", 2, "d_model", 64, "n_heads", 4, "d_head", 16, "d_vocab", 512, "n_ctx", 64, "act_fn", "gelu")}.
     *
     * @param tokenizerFrom a bundled model or local directory whose tokenizer to use, or null for none
     */
    public Model randomModel(Map<String, ?> config, String tokenizerFrom) {
        Objects.requireNonNull(config, "config");
        Args args = Args.of("config", config, "tokenizer", tokenizerFrom, "device", options.device());
        return new Model(this, call("model.native", args.map(), List.of(), null).value());
    }

    /** The models that ship with lens4j and load with no network. */
    public List<String> bundledModels() {
        List<String> names = new ArrayList<>();
        call("model.bundled", Map.of(), List.of(), null).value().forEach(n -> names.add(n.asText()));
        return names;
    }

    // -- tensors from Java ------------------------------------------------------------

    /** Send Java data to Python as a tensor of the given shape (row-major). */
    public Tensor tensor(float[] data, long... shape) {
        return Tensor.send(this, Tensors.blob(data, shape));
    }

    public Tensor tensor(double[] data, long... shape) {
        return Tensor.send(this, Tensors.blob(data, shape));
    }

    public Tensor tensor(long[] data, long... shape) {
        return Tensor.send(this, Tensors.blob(data, shape));
    }

    public Tensor tensor(int[] data, long... shape) {
        return Tensor.send(this, Tensors.blob(data, shape));
    }

    public Tensor tensor(boolean[] data, long... shape) {
        return Tensor.send(this, Tensors.blob(data, shape));
    }

    /**
     * Send a blob (any dtype, bfloat16 and float16 included) as a tensor of its dtype and shape,
     * such as one read from a file: {@code lens.tensor(Npy.read(Path.of("x.npy")))}.
     */
    public Tensor tensor(Blob blob) {
        Objects.requireNonNull(blob, "blob");
        return Tensor.send(this, blob);
    }

    // -- scopes and handles -----------------------------------------------------------

    /** Open a scope on this thread: handles made until it closes are freed with it. */
    public Scope scope() {
        ensureOpen();
        Scope s = new Scope(this);
        scopes.get().push(s);
        return s;
    }

    void endScope(Scope s) {
        scopes.get().remove(s);
    }

    void track(Handle h) {
        Scope top = scopes.get().peek();
        if (top != null) {
            top.add(h);
        }
    }

    void releaseLater(long id, long handleEpoch) {
        Engine e = engine;
        if (!closed && handleEpoch == epoch && e != null && e.isAlive()) {
            e.release(new long[] {id}, false);
        }
    }

    /** Sends the pending releases now when the engine is idle (a call in flight sends them after). */
    void sendReleasesNow() {
        Engine e = engine;
        if (!closed && e != null && e.isAlive()) {
            e.release(new long[0], true);
        }
    }

    /** How many objects the engine's handle table holds now (pending releases are sent first). */
    public int pythonHandleCount() {
        return call("bridge.handles", Map.of(), List.of(), null).value().path("count").asInt();
    }

    // -- calls and callbacks ----------------------------------------------------------

    Reply call(String op, Map<String, ?> args, List<Blob> blobs, ProgressListener progress) {
        return onEngine(op, engine -> engine.call(op, args, blobs, progress));
    }

    /**
     * Calls {@code op} and converts its result with {@code read} before the engine may reuse the
     * memory its blobs are in (see {@link Engine#callAndRead}).
     */
    <T> T callAndRead(String op, Map<String, ?> args, Function<Reply, T> read) {
        return onEngine(op, engine -> engine.callAndRead(op, args, List.of(), null, read));
    }

    /** Runs {@code call} on the current engine; its result counts only if no restart or close ran meanwhile. */
    private <T> T onEngine(String op, Function<Engine, T> call) {
        ensureOpen();
        long e0 = epoch; // read before the engine: restart() bumps the epoch before it swaps engines
        Engine e = engine;
        if (e == null) {
            throw new EngineException(ErrorKind.ENGINE_DIED, op + ": the engine is being restarted, or its restart failed;"
                    + " call again once Lens.restart() has returned", null);
        }
        callEpoch.get()[0] = e0;
        T result = call.apply(e);
        if (epoch != e0) {
            throw new EngineException(ErrorKind.ENGINE_DIED, op + ": Lens.restart() or close() ran during this call,"
                    + " so its result belongs to a stopped engine", null);
        }
        return result;
    }

    long registerCallback(Ops.Callback callback) {
        long id = callbackIds.incrementAndGet();
        callbacks.put(id, callback);
        return id;
    }

    void unregisterCallback(long id) {
        callbacks.remove(id);
    }

    void registerNamedCallback(String name, Ops.Callback callback) {
        namedCallbacks.put(name, callback);
    }

    private Object dispatchCallback(String name, JsonNode args, List<Blob> blobs) throws Exception {
        Ops.Callback target = args.path("id").canConvertToLong() ? callbacks.get(args.path("id").asLong()) : null;
        if (target == null) {
            target = namedCallbacks.get(name);
        }
        if (target == null) {
            throw new IllegalStateException("no Java callback is registered for '" + name + "' with id " + args.path("id"));
        }
        return target.call(args, blobs);
    }

    // -- life cycle -------------------------------------------------------------------

    /**
     * Stop the engine and start a fresh one, after a crash, a timeout or to free everything.
     * Every handle of the old engine becomes closed; load models again.
     */
    public synchronized void restart() {
        ensureOpen();
        epoch++;
        Engine old = engine;
        engine = null;
        try {
            if (old != null) {
                old.close(); // null when the last restart failed to start an engine
            }
        } finally {
            engine = startEngine();
        }
    }

    /** Whether the engine is running and takes calls. */
    public boolean isAlive() {
        Engine e = engine;
        return !closed && e != null && e.isAlive();
    }

    /** Whether {@link #close()} ran, for handles to say so rather than blame a stopped engine. */
    boolean closedByUser() {
        return closed;
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("this Lens is closed");
        }
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        epoch++;
        Engine e = engine;
        if (e != null) {
            e.close();
        }
    }

    @Override
    public String toString() {
        Engine e = engine;
        return "Lens[" + (closed ? "closed" : e == null ? "restarting" : e.describe()) + "]";
    }

    /** What lens4j's other packages may reach of the root package: see {@link LensAccess}. */
    private static final class Door implements LensAccess.Door {
        @Override
        public Reply call(Lens lens, String op, Map<String, ?> args, List<Blob> blobs, ProgressListener progress) {
            return lens.call(op, args, blobs, progress);
        }

        @Override
        public Engine engine(Lens lens) {
            return lens.engine();
        }

        @Override
        public Tensor tensor(Lens lens, JsonNode node) {
            return new Tensor(lens, node);
        }

        @Override
        public ActivationCache cache(Lens lens, JsonNode node) {
            return new ActivationCache(lens, node);
        }

        @Override
        public Handle object(Lens lens, long id, String type) {
            return new PyObject(lens, id, type);
        }

        @Override
        public long register(Lens lens, Ops.Callback callback) {
            return lens.registerCallback(callback);
        }

        @Override
        public void unregister(Lens lens, long id) {
            lens.unregisterCallback(id);
        }

        @Override
        public void registerNamed(Lens lens, String name, Ops.Callback callback) {
            lens.registerNamedCallback(name, callback);
        }
    }
}
