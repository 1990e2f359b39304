package org.lens4j;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * How {@link org.lens4j.Lens#start(EngineOptions)} starts its engine. Every option has a
 * default, which the environment can change ({@code LENS4J_ENGINE}, {@code LENS4J_PYTHON},
 * {@code LENS4J_HOME}, {@code LENS4J_DEVICE}, {@code LENS4J_OFFLINE}, {@code LENS4J_CALL_TIMEOUT_S}; {@code LENS4J_VENV} names a ready-made venv to use as it is, see {@code PythonEnv}).
 *
 * <pre>{@code
 * EngineOptions opts = EngineOptions.defaults().withDevice("cpu").withCallTimeout(Duration.ofMinutes(5));
 * try (Lens lens = Lens.start(opts)) { ... }
 * }</pre>
 *
 * @param engine which engine: AUTO (GraalPy where it can import torch, else the worker), WORKER, GRAALPY or
 *               EMBEDDED (CPython inside this JVM through JEP; no crash isolation)
 * @param python a base Python (>= 3.10) to build the venv from; null finds one on the PATH
 * @param home lens4j's cache folder (venvs, unpacked bridge); default {@code ~/.cache/lens4j}
 * @param device the default device for models: "auto" (CUDA when present), "cpu", "cuda", "cuda:N"
 * @param offline true: never reach a model hub (Hugging Face's offline mode); false lets hub names download
 * @param callTimeout the longest a single call may run before the worker is stopped; null waits forever
 * @param startTimeout the longest the worker may take to start (after the venv exists)
 * @param log where set-up progress and the worker's stderr lines go; null discards them
 * @param bridgeDir a source tree's {@code python/} folder to run instead of the bridge packed in the jar; null uses the jar's
 * @param workerEnv extra environment variables for the worker process
 */
public record EngineOptions(
        Kind engine,
        String python,
        Path home,
        String device,
        boolean offline,
        Duration callTimeout,
        Duration startTimeout,
        Consumer<String> log,
        Path bridgeDir,
        Map<String, String> workerEnv) {

    /** Which engine runs the bridge. */
    public enum Kind { AUTO, WORKER, GRAALPY, EMBEDDED }

    public EngineOptions {
        Objects.requireNonNull(engine, "engine");
        Objects.requireNonNull(home, "home");
        Objects.requireNonNull(device, "device");
        Objects.requireNonNull(startTimeout, "startTimeout");
        if (callTimeout != null && (callTimeout.isNegative() || callTimeout.isZero())) {
            throw new IllegalArgumentException("callTimeout must be positive, or null for none; got " + callTimeout);
        }
        if (!device.equals("auto") && !device.equals("cpu") && !device.equals("cuda") && !device.matches("cuda:\\d+")) {
            throw new IllegalArgumentException("device must be auto, cpu, cuda or cuda:N; got '" + device + "'");
        }
        workerEnv = Map.copyOf(workerEnv == null ? Map.of() : workerEnv);
    }

    /** The defaults, as changed by the LENS4J_* environment variables. */
    public static EngineOptions defaults() {
        Map<String, String> env = System.getenv();
        Kind kind = parseKind(env.getOrDefault("LENS4J_ENGINE", "auto"));
        String home = env.get("LENS4J_HOME");
        String timeout = env.get("LENS4J_CALL_TIMEOUT_S");
        String bridge = env.get("LENS4J_BRIDGE_DIR");
        return new EngineOptions(
                kind,
                blankToNull(env.get("LENS4J_PYTHON")),
                home == null || home.isBlank() ? Path.of(System.getProperty("user.home"), ".cache", "lens4j") : Path.of(home),
                env.getOrDefault("LENS4J_DEVICE", "auto"),
                !"0".equals(env.get("LENS4J_OFFLINE")) && !"false".equalsIgnoreCase(env.get("LENS4J_OFFLINE")),
                timeout == null || timeout.isBlank() ? null : Duration.ofMillis((long) (Double.parseDouble(timeout) * 1000)),
                Duration.ofSeconds(180),
                System.err::println,
                bridge == null || bridge.isBlank() ? null : Path.of(bridge),
                Map.of());
    }

    static Kind parseKind(String value) {
        try {
            return Kind.valueOf(value.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("LENS4J_ENGINE must be auto, worker, graalpy or embedded; got '" + value + "'");
        }
    }

    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s;
    }

    public EngineOptions withEngine(Kind value) {
        return with(b -> b.engine = value);
    }

    public EngineOptions withPython(String value) {
        return with(b -> b.python = value);
    }

    public EngineOptions withHome(Path value) {
        return with(b -> b.home = value);
    }

    public EngineOptions withDevice(String value) {
        return with(b -> b.device = value);
    }

    public EngineOptions withOffline(boolean value) {
        return with(b -> b.offline = value);
    }

    public EngineOptions withCallTimeout(Duration value) {
        return with(b -> b.callTimeout = value);
    }

    public EngineOptions withStartTimeout(Duration value) {
        return with(b -> b.startTimeout = value);
    }

    public EngineOptions withLog(Consumer<String> value) {
        return with(b -> b.log = value);
    }

    public EngineOptions withBridgeDir(Path value) {
        return with(b -> b.bridgeDir = value);
    }

    public EngineOptions withWorkerEnv(Map<String, String> value) {
        return with(b -> b.workerEnv = value);
    }

    /** Sends a line to {@link #log()} when there is one. */
    public void logLine(String line) {
        if (log != null) {
            log.accept(line);
        }
    }

    // The withers' one copy point (docs/API-CONVENTIONS.md); the canonical constructor still validates.
    private EngineOptions with(java.util.function.Consumer<Builder> change) {
        Builder b = new Builder(this);
        change.accept(b);
        return new EngineOptions(b.engine, b.python, b.home, b.device, b.offline, b.callTimeout, b.startTimeout, b.log,
                b.bridgeDir, b.workerEnv);
    }

    private static final class Builder {
        Kind engine;
        String python;
        Path home;
        String device;
        boolean offline;
        Duration callTimeout;
        Duration startTimeout;
        Consumer<String> log;
        Path bridgeDir;
        Map<String, String> workerEnv;

        Builder(EngineOptions o) {
            engine = o.engine; python = o.python; home = o.home; device = o.device; offline = o.offline;
            callTimeout = o.callTimeout; startTimeout = o.startTimeout; log = o.log; bridgeDir = o.bridgeDir;
            workerEnv = o.workerEnv;
        }
    }
}
