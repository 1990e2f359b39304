package org.lens4j.engine.worker;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * The worker's OS process: started with the token on its stdin, watched through its
 * stdout (the READY line) and stderr (kept as a tail for error messages).
 *
 * <p>Its stdin stays open for the worker's whole life: when this JVM dies, even by kill -9,
 * the pipe closes and the worker exits and removes its socket.
 */
final class WorkerProcess {
    private static final int TAIL_LINES = 60;

    private final Process process;
    private final OutputStream stdin;
    private final Deque<String> stderrTail = new ArrayDeque<>();
    private final CompletableFuture<Ready> ready = new CompletableFuture<>();

    private WorkerProcess(Process process, Consumer<String> log) {
        this.process = process;
        this.stdin = process.getOutputStream();
        pump(process.getInputStream(), "lens4j-worker-stdout", line -> {
            if (line.startsWith("LENS4J_READY ")) {
                ready.complete(Ready.parse(line.substring("LENS4J_READY ".length())));
            } else {
                remember(line);
                if (log != null) {
                    log.accept("[worker] " + line);
                }
            }
        });
        pump(process.getErrorStream(), "lens4j-worker-stderr", this::remember);
    }

    static WorkerProcess start(List<String> command, Map<String, String> env, String token, Consumer<String> log) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().putAll(env);
        pb.redirectInput(ProcessBuilder.Redirect.PIPE);
        WorkerProcess worker = new WorkerProcess(pb.start(), log);
        worker.stdin.write((token + "\n").getBytes(StandardCharsets.US_ASCII));
        worker.stdin.flush();
        return worker;
    }

    private static void pump(InputStream in, String name, Consumer<String> sink) {
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    sink.accept(line);
                }
            } catch (IOException ignored) {
                // the process ended; its exit code tells the story
            }
        }, name);
        t.setDaemon(true);
        t.start();
    }

    private synchronized void remember(String line) {
        stderrTail.addLast(line);
        while (stderrTail.size() > TAIL_LINES) {
            stderrTail.removeFirst();
        }
    }

    /** What the READY line says: {@code LENS4J_READY <pid> <arena fd or ->}; arenaFd is -1 when there is no arena. */
    record Ready(long pid, int arenaFd) {
        static Ready parse(String rest) {
            String[] parts = rest.trim().split("\\s+");
            int fd = parts.length > 1 && parts[1].matches("\\d{1,9}") ? Integer.parseInt(parts[1]) : -1;
            return new Ready(Long.parseLong(parts[0]), fd);
        }
    }

    /** Wait for the READY line; fail with the stderr tail if the process ends or takes too long. */
    Ready awaitReady(Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            try {
                return ready.get(200, TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                if (!process.isAlive()) {
                    waitForPumps();
                    throw new IOException("the worker exited with code " + process.exitValue() + " before it was ready" + tailForMessage());
                }
                if (System.nanoTime() > deadline) {
                    kill();
                    throw new IOException("the worker was not ready after " + timeout.toSeconds() + " s" + tailForMessage());
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                kill();
                throw new IOException("interrupted while the worker started");
            } catch (ExecutionException e) {
                throw new IOException(e.getCause());
            }
        }
    }

    private void waitForPumps() {
        try {
            Thread.sleep(100); // let the pump threads read what the process wrote last
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    long pid() {
        return process.pid();
    }

    /** Run {@code action} once the process has ended, however it ended. */
    void onExit(Runnable action) {
        process.onExit().thenRun(action);
    }

    boolean isAlive() {
        return process.isAlive();
    }

    /** Close stdin (the worker's cue to leave) and wait; kill it if it lingers. */
    void stop(Duration grace) {
        try {
            stdin.close();
        } catch (IOException ignored) {
            // already closed: the worker is going anyway
        }
        try {
            if (!process.waitFor(grace.toMillis(), TimeUnit.MILLISECONDS)) {
                kill();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            kill();
        }
    }

    void kill() {
        process.destroyForcibly();
        try {
            process.waitFor(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The exit code once the process has ended, waiting up to {@code wait} for it; null if it runs on. */
    Integer exitCodeWithin(Duration wait) {
        try {
            if (process.waitFor(wait.toMillis(), TimeUnit.MILLISECONDS)) {
                return process.exitValue();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return null;
    }

    /** VmRSS and VmHWM (peak) of a process in kB from /proc, or null where there is no /proc or no such process. */
    static long[] rssKb(long pid) {
        long rss = -1;
        long peak = -1;
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (line.startsWith("VmRSS:")) {
                    rss = Long.parseLong(line.replaceAll("[^0-9]", ""));
                } else if (line.startsWith("VmHWM:")) {
                    peak = Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException | RuntimeException e) {
            return null;
        }
        return rss < 0 ? null : new long[] {rss, Math.max(rss, peak)};
    }

    /** The exit code, or null while running. */
    Integer exitCode() {
        return process.isAlive() ? null : process.exitValue();
    }

    synchronized List<String> stderrTail() {
        return new ArrayList<>(stderrTail);
    }

    String tailForMessage() {
        waitForPumps();
        List<String> tail = stderrTail();
        if (tail.isEmpty()) {
            return "";
        }
        return "\n--- worker stderr (last " + tail.size() + " lines) ---\n" + String.join("\n", tail);
    }

    static Path socketPath(Path dir) {
        return dir.resolve("worker.sock");
    }
}
