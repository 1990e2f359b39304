package org.lens4j.engine.embedded;

import org.lens4j.internal.Engines;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.lens4j.CallbackFailedException;
import org.lens4j.EngineException;
import org.lens4j.PythonException;
import org.lens4j.Blob;
import org.lens4j.engine.CallbackHandler;
import org.lens4j.EngineOptions;
import org.lens4j.ErrorKind;
import org.lens4j.engine.Reply;
import org.lens4j.engine.worker.PythonEnv;

/**
 * The embedded engine's in-process faults, threads and soak (the contract suite and the model
 * suites cover its ops): a Python error, a Java exception in a callback, a call timeout and an
 * interrupted caller raise what the worker raises and leave the engine usable; eight threads get
 * their own answers; 10,000 calls leave the handle table and RSS where they were; and a venv
 * without JEP fails at once, naming the missing piece and the worker.
 */
class EmbeddedEngineTest {
    private static final Map<String, CallbackHandler> CALLBACKS = new ConcurrentHashMap<>();
    private static EmbeddedEngine engine;

    /** Why the embedded tests skip in the main JUnit pass: they run in a JVM of their own (see {@link #PASS}). */
    static final String PASS = "the embedded engine's tests run in ./lens4j test's embedded pass (LENS4J_ENGINE=embedded,"
            + " a JVM of its own: CPython loaded into the JVM that also runs GraalPy and Spark, and one native crash there"
            + " would end every other test); run them with LENS4J_ENGINE=embedded mvn test -Dtest='Embedded*'";

    static void requireEmbeddedPass() {
        Assumptions.assumeTrue("embedded".equalsIgnoreCase(System.getenv("LENS4J_ENGINE")), PASS);
    }

    @BeforeAll
    static void start() {
        requireEmbeddedPass();
        EngineOptions options = EngineOptions.defaults().withDevice("cpu").withCallTimeout(Duration.ofSeconds(2));
        Path source = Path.of("python").toAbsolutePath();
        if (Files.isRegularFile(source.resolve("lens4j_bridge").resolve("embedded_entry.py"))) {
            options = options.withBridgeDir(source);
        }
        engine = EmbeddedEngine.start(options, (name, args, blobs) -> {
            CallbackHandler h = CALLBACKS.get(name);
            if (h == null) {
                throw new UnsupportedOperationException("no test callback " + name);
            }
            return h.onCallback(name, args, blobs);
        });
    }

    @AfterAll
    static void stop() {
        if (engine != null) {
            engine.close();
        }
    }

    private Reply call(String op, Map<String, ?> args) {
        return engine.call(op, args, List.of(), null);
    }

    @Test
    void runsInThisProcessWithNoPythonChild() {
        assertEquals(ProcessHandle.current().pid(), call("bridge.info", Map.of()).value().path("pid").asLong());
        assertTrue(engine.describe().startsWith("embedded engine (CPython 3."), engine.describe());
        assertEquals(0, ProcessHandle.current().children().filter(p -> p.info().command().orElse("").contains("python")).count(),
                "the embedded engine starts no Python process");
    }

    @Test
    void aPythonErrorIsAPythonExceptionAndTheEngineRunsOn() {
        PythonException e = assertThrows(PythonException.class, () -> call("bridge.fail", Map.of("message", "planned")));
        assertTrue(e.getMessage().contains("planned"), e.getMessage());
        assertEquals("RuntimeError", e.pythonType());
        assertEquals(7, call("bridge.echo", Map.of("value", 7)).value().path("value").asInt());
    }

    @Test
    void aJavaExceptionInACallbackIsCallbackFailedWithItAsCause() {
        CALLBACKS.put("throws", (name, args, blobs) -> {
            throw new IllegalStateException("hook broke");
        });
        CallbackFailedException e = assertThrows(CallbackFailedException.class,
                () -> call("bridge.callback", Map.of("name", "throws")));
        assertInstanceOf(IllegalStateException.class, e.getCause());
        assertEquals("hook broke", e.getCause().getMessage());
        assertTrue(engine.isAlive());
    }

    @Test
    void aCallbackRunsOnThePythonThreadAndNestedCallsRunInlineThere() {
        AtomicReference<String> thread = new AtomicReference<>();
        CALLBACKS.put("nest", (name, args, blobs) -> {
            thread.set(Thread.currentThread().getName());
            // a call from inside the callback: inline on this thread, no deadlock
            return engine.call("bridge.echo", Map.of("value", args.path("call").asInt() + 100), List.of(), null)
                    .value().path("value").asInt();
        });
        Reply r = call("bridge.callback", Map.of("name", "nest", "repeat", 3));
        assertEquals("[100,101,102]", r.value().toString());
        assertEquals("lens4j-embedded-python", thread.get());
    }

    @Test
    void aTimeoutInterruptsTheCallAndTheEngineTakesTheNext() {
        long start = System.nanoTime();
        EngineException e = assertThrows(EngineException.class, () -> call("bridge.sleep", Map.of("seconds", 30)));
        double seconds = (System.nanoTime() - start) / 1e9;
        assertEquals(ErrorKind.TIMEOUT, e.kind(), e.getMessage());
        assertTrue(seconds < 10, "the 2 s timeout took " + seconds + " s");
        assertTrue(engine.isAlive());
        assertEquals(1, call("bridge.echo", Map.of("value", 1)).value().path("value").asInt());
        // the next call runs its full time: the interrupt was for the old one only
        assertEquals(0.3, call("bridge.sleep", Map.of("seconds", 0.3)).value().asDouble(), 1e-9);
    }

    @Test
    void anInterruptedCallerStopsItsCallOrLeavesTheQueueAndTheEngineRunsOn() throws Exception {
        AtomicReference<Throwable> running = new AtomicReference<>();
        AtomicReference<Throwable> queued = new AtomicReference<>();
        AtomicReference<Boolean> flagKept = new AtomicReference<>();
        Thread a = new Thread(() -> {
            try {
                call("bridge.sleep", Map.of("seconds", 1.5));
            } catch (Throwable t) {
                running.set(t);
                flagKept.set(Thread.currentThread().isInterrupted());
            }
        });
        a.start();
        Thread.sleep(300);
        Thread b = new Thread(() -> {
            try {
                call("bridge.echo", Map.of("value", 2));
            } catch (Throwable t) {
                queued.set(t);
            }
        });
        b.start();
        Thread.sleep(200);
        b.interrupt(); // queued behind a's call: withdrawn, nothing ran
        b.join(5000);
        a.interrupt(); // running: interrupted in Python
        a.join(5000);
        assertInstanceOf(EngineException.class, queued.get());
        assertEquals(ErrorKind.INTERRUPTED, ((EngineException) queued.get()).kind());
        assertTrue(queued.get().getMessage().contains("nothing ran"), queued.get().getMessage());
        assertInstanceOf(EngineException.class, running.get());
        assertEquals(ErrorKind.INTERRUPTED, ((EngineException) running.get()).kind(), running.get().getMessage());
        assertTrue(flagKept.get(), "the interrupted caller keeps its interrupt flag");
        assertEquals(3, call("bridge.echo", Map.of("value", 3)).value().path("value").asInt());
    }

    @Test
    void eightThreadsGetTheirOwnAnswers() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(8);
        CountDownLatch go = new CountDownLatch(1);
        List<Future<Integer>> done = new ArrayList<>();
        for (int t = 0; t < 8; t++) {
            int id = t;
            done.add(pool.submit(() -> {
                go.await();
                for (int i = 0; i < 300; i++) {
                    float[] values = {id, i, id * 1000 + i};
                    ByteBuffer bytes = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
                    for (float v : values) {
                        bytes.putFloat(v);
                    }
                    bytes.flip();
                    Reply r = engine.call("bridge.echo", Map.of("value", Map.of("thread", id, "i", i), "blobs", List.of(Map.of("$blob", 0))),
                            List.of(new Blob("float32", new long[] {3}, bytes)), null);
                    assertEquals(id, r.value().path("value").path("thread").asInt());
                    assertEquals(i, r.value().path("value").path("i").asInt());
                    float[] back = new float[3];
                    r.blobs().get(0).data().asFloatBuffer().get(back);
                    assertArrayEquals(values, back);
                }
                return id;
            }));
        }
        go.countDown();
        for (int t = 0; t < 8; t++) {
            assertEquals(t, done.get(t).get());
        }
        pool.shutdown();
    }

    @Test
    void tenThousandCallsLeaveTheHandleTableAndRssWhereTheyWere() {
        int before = call("bridge.handles", Map.of()).value().path("count").asInt();
        for (int i = 0; i < 500; i++) { // warm up the allocators before measuring RSS
            long h = call("bridge.hold", Map.of("value", i)).value().path("$h").asLong();
            engine.release(new long[] {h}, false);
        }
        long rss0 = rssKib();
        for (int i = 0; i < 10_000; i++) {
            long h = call("bridge.hold", Map.of("value", List.of(i, "x"))).value().path("$h").asLong();
            engine.release(new long[] {h}, i % 2 == 0);
        }
        assertEquals(before, call("bridge.handles", Map.of()).value().path("count").asInt());
        long rss1 = rssKib();
        assertTrue(rss1 <= rss0 * 1.10, "RSS grew from " + rss0 + " KiB to " + rss1 + " KiB over 10,000 calls");
    }

    private static long rssKib() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("\\D", ""));
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        throw new IllegalStateException("no VmRSS in /proc/self/status");
    }

    @Test
    void aSecondEngineInTheSameJvmSharesThePythonAndHasItsOwnHandles() {
        EngineOptions options = EngineOptions.defaults().withDevice("cpu");
        Path source = Path.of("python").toAbsolutePath();
        if (Files.isDirectory(source.resolve("lens4j_bridge"))) {
            options = options.withBridgeDir(source);
        }
        long held = call("bridge.hold", Map.of("value", "first engine's")).value().path("$h").asLong();
        for (int round = 0; round < 2; round++) { // start, close, start again: CPython itself starts once
            EmbeddedEngine second = EmbeddedEngine.start(options, CallbackHandler.NONE);
            try {
                assertEquals(0, second.call("bridge.handles", Map.of(), List.of(), null).value().path("count").asInt());
                assertThrows(org.lens4j.HandleClosedException.class, () -> second.call("bridge.echo",
                        Map.of("value", Map.of("$h", held)), List.of(), null));
                assertEquals(5, second.call("bridge.echo", Map.of("value", 5), List.of(), null).value().path("value").asInt());
            } finally {
                second.close();
            }
            assertFalse(second.isAlive());
            EngineException closed = assertThrows(EngineException.class,
                    () -> second.call("bridge.echo", Map.of("value", 1), List.of(), null));
            assertEquals(ErrorKind.ENGINE_DIED, closed.kind());
        }
        assertEquals("first engine's", call("bridge.echo", Map.of("value", Map.of("$h", held))).value().path("value").asText());
        engine.release(new long[] {held}, true);
    }

    // ------------------------------------------------------------------ fail fast

    @Test
    void aVenvWithoutJepFailsAtOnceNamingJepAndTheWorker() throws IOException {
        Path venv = Files.createTempDirectory("lens4j-venv-without-jep");
        Files.createDirectories(venv.resolve("lib/python3.11/site-packages/torch"));
        EngineException e = assertThrows(EngineException.class,
                () -> EmbeddedSetup.locate(venv, venv.resolve("bin/python"), Path.of("python")));
        assertEquals(ErrorKind.ENGINE_START, e.kind());
        assertTrue(e.getMessage().contains("needs JEP in the venv"), e.getMessage());
        assertTrue(e.getMessage().contains("LENS4J_ENGINE=worker"), e.getMessage());

        // the venv build wrote down why the JEP step failed: the message says it
        Files.writeString(venv.resolve(PythonEnv.EMBEDDED_FAILED), "step 'pip install jep' failed: error: command 'gcc' failed\n");
        e = assertThrows(EngineException.class, () -> EmbeddedSetup.locate(venv, venv.resolve("bin/python"), Path.of("python")));
        assertTrue(e.getMessage().contains("command 'gcc' failed"), e.getMessage());
        assertTrue(e.getMessage().contains("no C compiler"), e.getMessage());
    }

    /** End to end through Engines.start, as LENS4J_ENGINE=embedded would: a complete venv (marker, python) without JEP. */
    @Test
    void askingForTheEmbeddedEngineWhereTheVenvHasNoJepFailsFastAndTheWorkerIsNamed() throws IOException {
        Path home = Files.createTempDirectory("lens4j-home-without-jep");
        String name = "0123456789abcdef";
        Path venv = Files.createDirectories(home.resolve("venvs").resolve(name));
        Files.createDirectories(venv.resolve("lib/python3.11/site-packages/torch"));
        Path python = Files.createDirectories(venv.resolve("bin")).resolve("python");
        Files.createSymbolicLink(python, Path.of("/bin/true"));
        Files.writeString(venv.resolve("lens4j-venv-complete"), "implementation=cpython\nversion=3.11.7\nexecutable=/usr/bin/python3\n");
        Files.writeString(home.resolve("venvs").resolve("default-" + PythonEnv.Spec.bundled().hash("any")), name + "\n");
        EngineOptions options = EngineOptions.defaults().withHome(home).withPython(null).withEngine(EngineOptions.Kind.EMBEDDED);
        long t0 = System.nanoTime();
        EngineException e = assertThrows(EngineException.class,
                () -> org.lens4j.internal.Engines.start(options, CallbackHandler.NONE));
        double seconds = (System.nanoTime() - t0) / 1e9;
        assertEquals(ErrorKind.ENGINE_START, e.kind());
        assertTrue(e.getMessage().contains("needs JEP in the venv " + venv), e.getMessage());
        assertTrue(e.getMessage().contains("made without venv-spec/embedded.txt"), e.getMessage());
        assertTrue(e.getMessage().contains("LENS4J_ENGINE=worker"), e.getMessage());
        assertTrue(seconds < 10, "the refusal took " + seconds + " s");
    }

    @Test
    void aJepOfAnotherVersionInTheVenvFailsAtOnce() throws IOException {
        Path venv = Files.createTempDirectory("lens4j-venv-other-jep");
        Path jep = Files.createDirectories(venv.resolve("lib/python3.11/site-packages/jep"));
        Files.writeString(jep.resolve("version.py"), "__VERSION__ = '4.3.2'\n");
        Files.writeString(jep.resolve("libjep.so"), "");
        EngineException e = assertThrows(EngineException.class,
                () -> EmbeddedSetup.locate(venv, venv.resolve("bin/python"), Path.of("python")));
        assertTrue(e.getMessage().contains("holds JEP 4.3.2") && e.getMessage().contains(EmbeddedEngine.JEP_VERSION), e.getMessage());
        assertFalse(e.getMessage().isBlank());
    }
}
