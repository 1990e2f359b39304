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
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import org.lens4j.EngineException;
import org.lens4j.LensException;
import org.lens4j.ProgressListener;
import org.lens4j.engine.Blob;
import org.lens4j.engine.CallbackHandler;
import org.lens4j.engine.Engine;
import org.lens4j.engine.EngineOptions;
import org.lens4j.engine.ErrorKind;
import org.lens4j.engine.Json;
import org.lens4j.engine.Reply;

/**
 * The default engine: a CPython process running {@code python -m lens4j_bridge} in the
 * venv that {@link PythonEnv} builds, reached over a Unix socket in a private 0700 folder,
 * with a random token on the first frame.
 *
 * <p>Calls are serialized: one outer call at a time, and callbacks from Python run on the
 * calling thread, where they may call again (they nest). A worker that dies, times out or
 * is abandoned by an interrupt makes the call fail with an {@link EngineException} that
 * carries its stderr tail; the engine is then dead and a new one must be started.
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
    private final ReentrantLock lock = new ReentrantLock();
    private final ConcurrentLinkedQueue<Long> pendingReleases = new ConcurrentLinkedQueue<>();
    private final ScheduledThreadPoolExecutor watchdog;
    private volatile boolean alive = true;
    private volatile ErrorKind deathCause;
    private long nextId;
    private int depth;
    private Throwable callbackFailure;

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
        // A worker that dies between calls (killed, crashed) takes its socket folder with it at once,
        // even if this engine is never called or closed again.
        process.onExit(() -> {
            alive = false;
            deleteQuietly(socketDir);
        });
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
            socketDir = Files.createTempDirectory("lens4j-",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            Path socket = WorkerProcess.socketPath(socketDir);
            byte[] secret = new byte[32];
            RANDOM.nextBytes(secret);
            String token = HexFormat.of().formatHex(secret);
            process = WorkerProcess.start(
                    List.of(python.toString(), "-m", "lens4j_bridge", "--socket", socket.toString()),
                    workerEnvironment(options, bridgeDir), token, options.log());
            process.awaitReady(options.startTimeout());
            SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX);
            channel.connect(UnixDomainSocketAddress.of(socket));
            FrameChannel frames = new FrameChannel(channel);
            arena = Arena.create();
            ObjectNode hello = Json.MAPPER.createObjectNode().put("kind", "hello").put("token", token)
                    .put("arena", arena.path().toString());
            frames.send(hello, List.of());
            FrameChannel.Frame answer = frames.receive();
            arena.unlink();
            if (!"hello".equals(answer.kind())) {
                throw new IOException("the worker refused the connection: " + answer.header());
            }
            if (answer.header().path("arena").asBoolean()) {
                frames.useArena(arena);
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
        lockForCall(op);
        try {
            ensureAlive();
            long id = ++nextId;
            ObjectNode header = Json.MAPPER.createObjectNode().put("kind", "call").put("id", id).put("op", op);
            header.set("args", Json.MAPPER.valueToTree(args));
            ScheduledFuture<?> timeout = depth == 0 && options.callTimeout() != null
                    ? watchdog.schedule(() -> die(ErrorKind.TIMEOUT), options.callTimeout().toMillis(), TimeUnit.MILLISECONDS)
                    : null;
            depth++;
            try {
                flushReleases();
                frames.send(header, blobs);
                return awaitResult(id, op, progress);
            } catch (IOException e) {
                throw failure(op, e);
            } finally {
                depth--;
                if (timeout != null) {
                    timeout.cancel(false);
                }
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * An outer call waits for the lock interruptibly: a caller interrupted while another
     * thread's call runs has sent nothing, so it leaves without costing the worker. A nested
     * call (from a callback, which holds the lock) must not stop half-way, so it just re-enters.
     */
    private void lockForCall(String op) {
        if (lock.isHeldByCurrentThread()) {
            lock.lock();
            return;
        }
        try {
            lock.lockInterruptibly();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new EngineException(ErrorKind.INTERRUPTED, op + ": the thread was interrupted while it waited for"
                    + " another thread's call; nothing was sent and the worker runs on", e);
        }
    }

    private Reply awaitResult(long id, String op, ProgressListener progress) throws IOException {
        RuntimeException listenerFailure = null;
        while (true) {
            FrameChannel.Frame frame = frames.receive();
            switch (frame.kind()) {
                case "result" -> {
                    requireId(frame, id);
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
        ErrorKind kind = ErrorKind.fromWire(error.path("kind").asText(null));
        String message = error.path("message").asText("(no message)");
        Throwable cause = null;
        if (kind == ErrorKind.CALLBACK_FAILED && callbackFailure != null) {
            cause = callbackFailure;
            callbackFailure = null;
            message = op + ": " + cause;
        }
        return LensException.of(kind, message, error.path("type").asText(null), error.path("traceback").asText(null), cause);
    }

    private void answerCallback(FrameChannel.Frame frame) throws IOException {
        JsonNode h = frame.header();
        List<Blob> copies = new ArrayList<>();
        for (Blob b : frame.blobs()) {
            copies.add(b.copy()); // arena views would be overwritten by nested calls
        }
        ObjectNode reply = Json.MAPPER.createObjectNode().put("id", h.path("id").asLong());
        try {
            Object value = callbacks.onCallback(h.path("callback").asText(), h.path("args"), copies);
            reply.put("kind", "callback_result").set("value", Json.MAPPER.valueToTree(value));
        } catch (EngineException e) {
            if (!alive) {
                throw e; // this engine failed during a nested call: nothing to answer
            }
            callbackFailure = e; // another engine's failure is this callback's failure
            reply.put("kind", "callback_error").putObject("error")
                    .put("message", String.valueOf(e.getMessage())).put("type", e.getClass().getName());
        } catch (Exception | Error e) {
            if (e instanceof Error err && !(err instanceof AssertionError) && !(err instanceof StackOverflowError)) {
                // An Error (OutOfMemoryError, ...) goes to the caller as it is. The op that called
                // back can then neither finish nor unwind (its hooks would stay on the model), so
                // the worker is stopped rather than left waiting for an answer.
                die(ErrorKind.ENGINE_DIED);
                throw err;
            }
            callbackFailure = e;
            reply.put("kind", "callback_error").putObject("error")
                    .put("message", String.valueOf(e.getMessage())).put("type", e.getClass().getName());
        }
        frames.send(reply, List.of());
    }

    /** Turn an I/O failure during a call into the exception that says why the worker is gone. */
    private EngineException failure(String op, IOException e) {
        boolean interrupted = e instanceof ClosedByInterruptException || Thread.currentThread().isInterrupted();
        ErrorKind kind = deathCause != null ? deathCause : interrupted ? ErrorKind.INTERRUPTED : ErrorKind.ENGINE_DIED;
        die(kind);
        Integer code = process.exitCode();
        String why = switch (kind) {
            case TIMEOUT -> "timed out after " + options.callTimeout().toMillis() + " ms; the worker was stopped";
            case INTERRUPTED -> "the waiting thread was interrupted; the worker was stopped";
            default -> "the worker died" + (code == null ? "" : " (exit code " + code + ")") + ": " + e.getMessage();
        };
        return new EngineException(kind, op + " " + why + ". Lens.restart() starts a new one." + process.tailForMessage(), e);
    }

    private void die(ErrorKind cause) {
        if (deathCause == null) {
            deathCause = cause;
        }
        alive = false;
        process.kill();
    }

    private void ensureAlive() {
        if (!alive || !process.isAlive()) {
            Integer code = process.exitCode();
            die(ErrorKind.ENGINE_DIED); // it may have died between calls: make sure it is gone for good
            throw new EngineException(ErrorKind.ENGINE_DIED,
                    "this lens4j worker has stopped" + (deathCause == null ? "" : " (" + deathCause + ")")
                            + (code == null ? "" : ", exit code " + code) + "; Lens.restart() starts a new one", null);
        }
    }

    @Override
    public void release(long[] handles, boolean now) {
        for (long h : handles) {
            pendingReleases.add(h);
        }
        if (now && alive && lock.tryLock()) {
            try {
                flushReleases();
            } catch (IOException e) {
                throw failure("release", e);
            } finally {
                lock.unlock();
            }
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
        boolean locked = false;
        try {
            locked = lock.tryLock(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            alive = false;
            try {
                frames.close();
            } catch (IOException ignored) {
                // the worker may already be gone
            }
            process.stop(Duration.ofSeconds(5));
            arena.close();
            deleteQuietly(socketDir);
            watchdog.shutdownNow();
        } finally {
            if (locked) {
                lock.unlock();
            }
        }
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
