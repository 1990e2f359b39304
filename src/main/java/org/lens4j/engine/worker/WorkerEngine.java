package org.lens4j.engine.worker;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
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

/**
 * The default engine: a CPython process running {@code python -m lens4j_bridge} in the
 * venv that {@link PythonEnv} builds, reached over a Unix socket in a private 0700 folder,
 * with a random token on the first frame.
 *
 * <p>Calls are serialized: one outer call at a time, and callbacks from Python run on the
 * calling thread, where they may call again (they nest). While a callback's Java code runs,
 * a call from another thread that names a handle made during that callback (the hook's
 * activation, a tensor the hook made) nests into it too, so a hook may hand its tensors to
 * pool threads (a parallel stream); any other thread's call waits for the outer call to
 * end. A worker that dies, times out or is abandoned by an interrupt makes the call fail
 * with an {@link EngineException} that carries its stderr tail, and every thread waiting
 * on the engine is released with one; the engine is then dead and a new one must be started.
 *
 * <pre>{@code
 * try (Engine engine = WorkerEngine.start(EngineOptions.defaults(), CallbackHandler.NONE)) {
 *     System.out.println(engine.call("bridge.info", Map.of(), List.of(), null).value());
 * }
 * }</pre>
 */
public final class WorkerEngine implements Engine {
    private static final SecureRandom RANDOM = new SecureRandom();

    private final EngineOptions options;
    private final CallbackHandler callbacks;
    private final WorkerProcess process;
    private final Path socketDir;
    private final Arena arena;
    private final FrameChannel frames;
    private final String pythonVersion;
    /**
     * Guards who may use the connection: {@link #owner} (the outer call), {@link #wire} (the
     * thread exchanging frames now) and {@link #open} (callbacks whose Java code runs). It is
     * held only to change or test them, never during I/O or user code.
     */
    private final ReentrantLock mon = new ReentrantLock();
    private final Condition changed = mon.newCondition();
    private Thread owner;
    private Thread wire;
    private final ArrayDeque<OpenCallback> open = new ArrayDeque<>();
    /** The largest handle id seen in a frame from the worker; ids only grow, so later ones were made later. */
    private volatile long maxHandleSeen;
    private volatile long lastRssKb = -1;
    private volatile long peakRssKb = -1;
    private volatile long lastRssAt;
    /** The process ended without this engine stopping it (a crash, a signal from outside). */
    private volatile boolean exitedByItself;
    private final ConcurrentLinkedQueue<Long> pendingReleases = new ConcurrentLinkedQueue<>();
    private final ScheduledThreadPoolExecutor watchdog;
    private volatile boolean alive = true;
    private volatile ErrorKind deathCause;
    private long nextId;
    private Throwable callbackFailure;

    /** A callback whose Java code runs: handles with ids above {@code handlesAbove} were made during it. */
    private record OpenCallback(Thread thread, long handlesAbove) {
    }

    private WorkerEngine(EngineOptions options, CallbackHandler callbacks, WorkerProcess process, Path socketDir,
                         Arena arena, FrameChannel frames, String pythonVersion) {
        this.options = options;
        this.callbacks = callbacks;
        this.process = process;
        this.socketDir = socketDir;
        this.arena = arena;
        this.frames = frames;
        this.pythonVersion = pythonVersion;
        this.watchdog = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "lens4j-call-watchdog");
            t.setDaemon(true);
            return t;
        });
        // Every call schedules a timeout and cancels it; cancelled ones must not pile up until they would have fired.
        watchdog.setRemoveOnCancelPolicy(true);
        // The last RSS goes into the message when the worker is killed by a signal (most often the
        // kernel's out-of-memory killer): one read of /proc every half second.
        watchdog.scheduleWithFixedDelay(this::sampleRss, 0, 500, TimeUnit.MILLISECONDS);
        // A worker that dies between calls (killed, crashed) takes its socket folder with it at once,
        // even if this engine is never called or closed again; threads waiting for it are told at once.
        process.onExit(() -> {
            mon.lock();
            try {
                exitedByItself = deathCause == null;
                alive = false;
                changed.signalAll();
            } finally {
                mon.unlock();
            }
            deleteQuietly(socketDir);
        });
    }

    private void sampleRss() {
        long[] rss = WorkerProcess.rssKb(process.pid());
        if (rss != null) {
            lastRssKb = rss[0];
            peakRssKb = Math.max(peakRssKb, rss[1]);
            lastRssAt = System.nanoTime();
        }
    }

    /** Build the venv if needed, start the worker, connect and authenticate. */
    public static WorkerEngine start(EngineOptions options, CallbackHandler callbacks) {
        PythonEnv env = PythonEnv.ensure(options.home(), options.python(), options::logLine);
        Path bridge = options.bridgeDir() != null ? options.bridgeDir() : env.bridgePath();
        return start(options, callbacks, env.python(), bridge);
    }

    /** Start a worker with a given Python and bridge folder (tests, and engines built elsewhere). */
    public static WorkerEngine start(EngineOptions options, CallbackHandler callbacks, Path python, Path bridgeDir) {
        Path socketDir = null;
        Arena arena = null;
        WorkerProcess process = null;
        try {
            StaleFiles.sweep(); // what JVMs killed during an earlier start left
            // The JVM's pid in the name lets a later start tell a dead JVM's folder from a live one's.
            socketDir = Files.createTempDirectory("lens4j-" + ProcessHandle.current().pid() + "-",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            Path socket = WorkerProcess.socketPath(socketDir);
            byte[] secret = new byte[32];
            RANDOM.nextBytes(secret);
            String token = HexFormat.of().formatHex(secret);
            process = WorkerProcess.start(
                    List.of(python.toString(), "-m", "lens4j_bridge", "--socket", socket.toString()),
                    workerEnvironment(options, bridgeDir), token, options.log());
            WorkerProcess.Ready ready = process.awaitReady(options.startTimeout());
            SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX);
            channel.connect(UnixDomainSocketAddress.of(socket));
            FrameChannel frames = new FrameChannel(channel);
            ObjectNode hello = Json.MAPPER.createObjectNode().put("kind", "hello").put("token", token);
            if (ready.arenaFd() >= 0) {
                try {
                    arena = Arena.openWorkers(ready.pid(), ready.arenaFd());
                    hello.put("arena_fd", ready.arenaFd());
                } catch (IOException e) {
                    // no /proc, or not allowed to open it: large blobs travel inline (slower, same results)
                    options.logLine("lens4j: no shared-memory arena (" + e.getMessage() + "); large tensors go over the socket");
                }
            }
            frames.send(hello, List.of());
            FrameChannel.Frame answer = frames.receive();
            if (!"hello".equals(answer.kind())) {
                throw new IOException("the worker refused the connection: " + answer.header());
            }
            if (arena != null && answer.header().path("arena").asBoolean()) {
                frames.useArena(arena);
            } else if (arena != null) {
                arena.close();
                arena = null;
            }
            return new WorkerEngine(options, callbacks, process, socketDir, arena, frames,
                    answer.header().path("python").asText());
        } catch (IOException | RuntimeException e) {
            String tail = process == null ? "" : process.tailForMessage();
            if (process != null) {
                process.kill();
            }
            if (arena != null) {
                arena.close();
            }
            deleteQuietly(socketDir);
            if (e instanceof LensException le) {
                throw le;
            }
            throw new EngineException(ErrorKind.ENGINE_START, "could not start the lens4j worker (" + python + "): "
                    + e.getMessage() + tail, e);
        }
    }

    private static Map<String, String> workerEnvironment(EngineOptions options, Path bridgeDir) {
        Map<String, String> env = new HashMap<>();
        env.put("PYTHONPATH", bridgeDir.toString());
        env.put("PYTHONUNBUFFERED", "1");
        env.put("PYTHONDONTWRITEBYTECODE", "1");
        env.put("TOKENIZERS_PARALLELISM", "false");
        env.put("TRANSFORMERS_VERBOSITY", "error");
        env.put("HF_HUB_DISABLE_PROGRESS_BARS", "1");
        env.put("TQDM_DISABLE", "1");
        if (options.offline()) {
            env.put("HF_HUB_OFFLINE", "1");
            env.put("TRANSFORMERS_OFFLINE", "1");
            // So that a failed hub load can say that lens4j chose offline, and how to go online.
            env.put("LENS4J_OFFLINE", "1");
        }
        // HF_TOKEN and HF_HOME (gated models, the cache) reach the worker as the rest of the JVM's
        // environment does: the process starts from it (WorkerProcess); OfflineHubTest checks.
        env.putAll(options.workerEnv());
        return env;
    }

    @Override
    public Reply call(String op, Map<String, ?> args, List<Blob> blobs, ProgressListener progress) {
        // Arena blobs are views the next exchange overwrites: the caller gets copies.
        return exchange(op, args, blobs, progress, reply -> new Reply(reply.value(), ownCopies(reply.blobs())));
    }

    @Override
    public <T> T callAndRead(String op, Map<String, ?> args, List<Blob> blobs, ProgressListener progress, Function<Reply, T> read) {
        return exchange(op, args, blobs, progress, read);
    }

    /** One exchange; {@code read} runs while this thread still holds the connection, so no other call reuses the arena. */
    private <T> T exchange(String op, Map<String, ?> args, List<Blob> blobs, ProgressListener progress, Function<Reply, T> read) {
        ObjectNode header = Json.MAPPER.createObjectNode().put("kind", "call").put("op", op);
        header.set("args", Json.MAPPER.valueToTree(args));
        boolean outer = enter(op, header.get("args"));
        try {
            ensureAlive();
            long id = ++nextId;
            header.put("id", id);
            ScheduledFuture<?> timeout = outer && options.callTimeout() != null
                    ? watchdog.schedule(() -> die(ErrorKind.TIMEOUT), options.callTimeout().toMillis(), TimeUnit.MILLISECONDS)
                    : null;
            try {
                flushReleases();
                frames.send(header, blobs);
                Reply reply = awaitResult(id, op, progress);
                return read.apply(reply);
            } catch (IOException e) {
                throw failure(op, e);
            } finally {
                if (timeout != null) {
                    timeout.cancel(false);
                }
            }
        } finally {
            leave(outer);
        }
    }

    /**
     * Wait until this thread may use the connection, and take it; returns whether the call is
     * an outer one. An outer call waits interruptibly (interrupted, it has sent nothing and
     * leaves without costing the worker). A call nests when a callback's Java code runs and the
     * caller belongs to it: the outer call's thread, a thread running a callback, or a thread
     * whose arguments name a handle made during the outermost open callback (a hook's
     * activation handed to a pool thread). A nested call must not stop half-way, so it waits
     * without interrupts. Every waiter leaves with an exception when the worker dies.
     */
    private boolean enter(String op, JsonNode args) {
        Thread me = Thread.currentThread();
        mon.lock();
        try {
            while (true) {
                if (!alive) {
                    return false; // ensureAlive() says why
                }
                if (wire == me) {
                    throw new IllegalStateException(op + ": a ProgressListener may not call lens4j: the op that"
                            + " reports progress is still sending frames (record the progress and call after the op)");
                }
                if (owner == null) {
                    owner = me;
                    wire = me;
                    return true;
                }
                boolean member = !open.isEmpty() && (owner == me || runsCallback(me) || namesHandleAbove(args, open.peekLast().handlesAbove()));
                if (member && wire == null) {
                    wire = me;
                    return false;
                }
                if (member || owner == me) {
                    changed.awaitUninterruptibly();
                } else {
                    try {
                        changed.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new EngineException(ErrorKind.INTERRUPTED, op + ": the thread was interrupted while it waited for"
                                + " another thread's call; nothing was sent and the worker runs on", e);
                    }
                }
            }
        } finally {
            mon.unlock();
        }
    }

    private void leave(boolean outer) {
        Thread me = Thread.currentThread();
        mon.lock();
        try {
            if (wire == me) {
                wire = null;
            }
            if (outer && owner == me) {
                owner = null;
                wire = null;
            }
            changed.signalAll();
        } finally {
            mon.unlock();
        }
    }

    private boolean runsCallback(Thread t) {
        for (OpenCallback c : open) {
            if (c.thread() == t) {
                return true;
            }
        }
        return false;
    }

    /** Whether a JSON value names a handle ({"$h": id}, {"$tensor": id}) with an id above {@code floor}. */
    private static boolean namesHandleAbove(JsonNode value, long floor) {
        if (value == null) {
            return false;
        }
        if (value.isObject()) {
            for (String marker : List.of("$h", "$tensor")) {
                if (value.path(marker).canConvertToLong() && value.path(marker).asLong() > floor) {
                    return true;
                }
            }
        }
        if (value.isContainerNode()) {
            for (JsonNode child : value) {
                if (namesHandleAbove(child, floor)) {
                    return true;
                }
            }
        }
        return false;
    }

    private static long maxHandleIn(JsonNode value, long max) {
        if (value.isObject()) {
            for (String marker : List.of("$h", "$tensor")) {
                if (value.path(marker).canConvertToLong()) {
                    max = Math.max(max, value.path(marker).asLong());
                }
            }
        }
        if (value.isContainerNode()) {
            for (JsonNode child : value) {
                max = maxHandleIn(child, max);
            }
        }
        return max;
    }

    private static List<Blob> ownCopies(List<Blob> blobs) {
        if (blobs.isEmpty()) {
            return blobs;
        }
        List<Blob> out = new ArrayList<>(blobs.size());
        for (Blob b : blobs) {
            out.add(b.nbytes() >= FrameChannel.INLINE_LIMIT ? b.copy() : b); // smaller ones are not in the arena
        }
        return out;
    }

    private Reply awaitResult(long id, String op, ProgressListener progress) throws IOException {
        RuntimeException listenerFailure = null;
        while (true) {
            FrameChannel.Frame frame = frames.receive();
            switch (frame.kind()) {
                case "result" -> {
                    requireId(frame, id);
                    maxHandleSeen = maxHandleIn(frame.header().path("value"), maxHandleSeen);
                    if (listenerFailure != null) {
                        releaseHandlesIn(frame.header().path("value")); // no Java handle will ever own them
                        throw listenerFailure;
                    }
                    return new Reply(frame.header().path("value"), frame.blobs());
                }
                case "error" -> {
                    requireId(frame, id);
                    throw listenerFailure != null ? listenerFailure : errorOf(op, frame.header().path("error"));
                }
                case "callback" -> answerCallback(frame);
                case "progress" -> {
                    if (progress != null && listenerFailure == null) {
                        JsonNode h = frame.header();
                        try {
                            progress.onProgress(h.path("done").asLong(), h.path("total").asLong(), h.path("message").asText(""));
                        } catch (RuntimeException e) {
                            // Leaving now would leave the op's frames for the next call to read: keep
                            // reading (the listener is not called again) and throw when the op ends.
                            listenerFailure = e;
                        }
                    }
                }
                default -> throw new IOException("unexpected frame from the worker: " + frame.header());
            }
        }
    }

    /** Queue the release of every handle named in a result that is thrown away ({"$tensor": id} or {"$h": id}). */
    private void releaseHandlesIn(JsonNode value) {
        if (value.isObject()) {
            for (String marker : List.of("$tensor", "$h")) {
                if (value.path(marker).canConvertToLong()) {
                    pendingReleases.add(value.path(marker).asLong());
                }
            }
        }
        if (value.isContainerNode()) {
            value.forEach(this::releaseHandlesIn);
        }
    }

    private static void requireId(FrameChannel.Frame frame, long id) throws IOException {
        if (frame.id() != id) {
            throw new IOException("the worker answered call " + frame.id() + " while call " + id + " was waiting");
        }
    }

    private LensException errorOf(String op, JsonNode error) {
        LensException e = WireErrors.toException(op, error, callbackFailure);
        if (e.getCause() != null && e.getCause() == callbackFailure) {
            callbackFailure = null; // reported once, with the error it caused
        }
        return e;
    }

    private void answerCallback(FrameChannel.Frame frame) throws IOException {
        JsonNode h = frame.header();
        List<Blob> copies = new ArrayList<>();
        for (Blob b : frame.blobs()) {
            copies.add(b.copy()); // arena views would be overwritten by nested calls
        }
        String name = h.path("callback").asText();
        OpenCallback cb = new OpenCallback(Thread.currentThread(), maxHandleSeen);
        maxHandleSeen = maxHandleIn(h.path("args"), maxHandleSeen);
        ObjectNode reply = Json.MAPPER.createObjectNode().put("id", h.path("id").asLong());
        Throwable thrown = null;
        releaseWireFor(cb);
        try {
            Object value = callbacks.onCallback(name, h.path("args"), copies);
            reply.put("kind", "callback_result").set("value", Json.MAPPER.valueToTree(value));
        } catch (Exception | Error e) {
            thrown = e;
        } finally {
            retakeWireAfter(cb);
        }
        if (thrown instanceof Error err && !(err instanceof AssertionError) && !(err instanceof StackOverflowError)) {
            // An Error (OutOfMemoryError, ...) goes to the caller as it is. The op that called
            // back can then neither finish nor unwind (its hooks would stay on the model), so
            // the worker is stopped rather than left waiting for an answer.
            die(ErrorKind.ENGINE_DIED);
            throw err;
        }
        if (thrown instanceof EngineException e && !alive) {
            throw e; // this engine failed during a nested call: nothing to answer
        }
        if (!alive) {
            throw new IOException("the worker stopped while the Java callback '" + name + "' ran");
        }
        if (thrown != null) {
            callbackFailure = thrown; // another engine's EngineException is this callback's failure too
            reply.put("kind", "callback_error").putObject("error")
                    .put("message", String.valueOf(thrown.getMessage())).put("type", thrown.getClass().getName());
        }
        frames.send(reply, List.of());
    }

    /** The callback's Java code is about to run: the connection is free for calls that nest into it. */
    private void releaseWireFor(OpenCallback cb) {
        mon.lock();
        try {
            open.push(cb);
            wire = null;
            changed.signalAll();
        } finally {
            mon.unlock();
        }
    }

    /**
     * Take the connection back to answer the callback, once every call that nested into it has
     * ended (answers must come innermost first). Returns at once when the worker has died.
     */
    private void retakeWireAfter(OpenCallback cb) {
        mon.lock();
        try {
            while (alive && !(wire == null && open.peek() == cb)) {
                changed.awaitUninterruptibly();
            }
            open.remove(cb);
            if (alive) {
                wire = cb.thread();
            }
            changed.signalAll();
        } finally {
            mon.unlock();
        }
    }

    /** Turn an I/O failure during a call into the exception that says why the worker is gone. */
    private EngineException failure(String op, IOException e) {
        boolean interrupted = e instanceof ClosedByInterruptException || Thread.currentThread().isInterrupted();
        ErrorKind kind = deathCause != null ? deathCause : interrupted ? ErrorKind.INTERRUPTED : ErrorKind.ENGINE_DIED;
        boolean byItself = endedByItself();
        die(kind);
        Integer code = process.exitCode();
        String why = switch (kind) {
            case TIMEOUT -> "timed out after " + options.callTimeout().toMillis() + " ms; the worker was stopped";
            case INTERRUPTED -> "the waiting thread was interrupted; the worker was stopped";
            default -> "the worker died" + (code == null ? "" : " (exit code " + code + ")") + ": " + e.getMessage()
                    + (byItself ? signalStory(code) : "");
        };
        return new EngineException(kind, op + " " + why + ". Lens.restart() starts a new one." + process.tailForMessage(), e);
    }

    private void die(ErrorKind cause) {
        mon.lock();
        try {
            if (deathCause == null) {
                deathCause = cause;
            }
            alive = false;
            changed.signalAll(); // every waiter leaves with an exception
        } finally {
            mon.unlock();
        }
        process.kill();
    }

    private void ensureAlive() {
        if (!alive || !process.isAlive()) {
            boolean byItself = endedByItself();
            Integer code = process.exitCode();
            String story = byItself ? signalStory(code) : "";
            die(ErrorKind.ENGINE_DIED); // it may have died between calls: make sure it is gone for good
            throw new EngineException(ErrorKind.ENGINE_DIED,
                    "this lens4j worker has stopped" + (deathCause == null || story.length() > 0 ? "" : " (" + deathCause + ")")
                            + (code == null ? "" : ", exit code " + code) + story + "; Lens.restart() starts a new one", null);
        }
    }

    /** Call before {@link #die}: whether the process ended without this engine stopping it. */
    private boolean endedByItself() {
        if (exitedByItself) {
            return true;
        }
        // The connection broke: if the process ended by itself, it did so just now (wait for its exit to be seen).
        return deathCause == null && process.exitCodeWithin(Duration.ofMillis(500)) != null;
    }

    /**
     * What an exit code says when the worker ended by itself: a signal (code 128 + n), and for
     * SIGKILL that memory is the likely cause (the kernel's out-of-memory killer sends it), with
     * the worker's last sampled RSS. Empty for a normal exit.
     */
    String signalStory(Integer code) {
        if (code == null || code <= 128 || code > 128 + 64) {
            return "";
        }
        int signal = code - 128;
        String name = switch (signal) {
            case 6 -> "SIGABRT";
            case 9 -> "SIGKILL";
            case 11 -> "SIGSEGV";
            case 15 -> "SIGTERM";
            default -> "signal " + signal;
        };
        StringBuilder story = new StringBuilder("; it was killed by ").append(name);
        if (signal == 9) {
            story.append(" from outside lens4j, most likely by the system's out-of-memory killer");
            if (lastRssKb > 0) {
                long agoMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - lastRssAt);
                story.append(String.format(" (its memory: %.1f GB RSS %d ms before it died, peak %.1f GB)",
                        lastRssKb / 1e6 * 1.024, agoMs, peakRssKb / 1e6 * 1.024));
            }
            story.append(". Keep less per call: cache only the activations you read (Names.only(...)),"
                    + " or run the prompts in smaller batches (PromptBatch)");
        }
        return story.toString();
    }

    @Override
    public void release(long[] handles, boolean now) {
        for (long h : handles) {
            pendingReleases.add(h);
        }
        if (!now || !alive) {
            return;
        }
        Boolean outer = tryTake();
        if (outer != null) {
            try {
                flushReleases();
            } catch (IOException e) {
                throw failure("release", e);
            } finally {
                leave(outer);
            }
        }
    }

    /** Take the connection if that needs no wait: null if busy, else whether it was taken as an outer call. */
    private Boolean tryTake() {
        Thread me = Thread.currentThread();
        mon.lock();
        try {
            if (owner == null) {
                owner = me;
                wire = me;
                return true;
            }
            if (wire == null && !open.isEmpty() && (owner == me || runsCallback(me))) {
                wire = me;
                return false;
            }
            return null;
        } finally {
            mon.unlock();
        }
    }

    private void flushReleases() throws IOException {
        if (pendingReleases.isEmpty()) {
            return;
        }
        ObjectNode header = Json.MAPPER.createObjectNode().put("kind", "release");
        var array = header.putArray("handles");
        Long h;
        while ((h = pendingReleases.poll()) != null) {
            array.add(h);
        }
        frames.send(header, List.of());
    }

    @Override
    public boolean isAlive() {
        return alive && process.isAlive();
    }

    @Override
    public String describe() {
        return "worker engine (CPython " + pythonVersion + ", pid " + process.pid() + ")";
    }

    /** The worker's process id (for tests and diagnostics). */
    public long pid() {
        return process.pid();
    }

    /** The private folder that holds the socket (for tests and diagnostics). */
    public Path socketDir() {
        return socketDir;
    }

    @Override
    public void close() {
        mon.lock();
        try {
            // Give a running call up to 2 s to end, then stop the worker under it.
            long left = TimeUnit.SECONDS.toNanos(2);
            while (owner != null && owner != Thread.currentThread() && left > 0) {
                try {
                    left = changed.awaitNanos(left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
            alive = false;
            changed.signalAll();
        } finally {
            mon.unlock();
        }
        try {
            frames.close();
        } catch (IOException ignored) {
            // the worker may already be gone
        }
        process.stop(Duration.ofSeconds(5));
        if (arena != null) {
            arena.close();
        }
        deleteQuietly(socketDir);
        watchdog.shutdownNow();
    }

    private static void deleteQuietly(Path dir) {
        if (dir == null) {
            return;
        }
        try {
            Files.deleteIfExists(WorkerProcess.socketPath(dir));
            Files.deleteIfExists(dir);
        } catch (IOException ignored) {
            // the worker removes them itself; this is the second guard
        }
    }
}
