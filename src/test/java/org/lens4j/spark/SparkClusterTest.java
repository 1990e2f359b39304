package org.lens4j.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lens4j.TestLens;
import org.lens4j.batch.PromptBatch;
import org.lens4j.batch.PromptMeasure;
import org.lens4j.batch.PromptRecord;
import org.lens4j.batch.PromptResult;
import org.lens4j.engine.worker.PythonEnv;
import org.lens4j.examples.IoiPrompts;

/**
 * lens4j on a real Spark cluster, on one machine: a standalone Master and one Worker started from
 * {@code target/spark-home} (Spark's own jars at Spark's own versions, made by
 * {@code ./lens4j assembly}), the job submitted with {@code SparkSubmit} as the assembly jar's
 * {@link MeasureJob}, and two executors, each its own JVM with its own lens4j worker. Everything
 * listens on 127.0.0.1 only and is stopped at the end, also when the test fails.
 *
 * <p>The executors get their Python as a cluster would without a shared disk: a venv archive
 * shipped with {@code --archives}, unpacked by Spark into each executor's working directory and
 * used as it is through {@code LENS4J_VENV} (no pip). The archive holds the venv's own
 * {@code bin/}, {@code pyvenv.cfg} and lens4j's marker, and its {@code site-packages} as a link to
 * this machine's venv: packing 5 GB of torch would cost minutes and prove nothing more about
 * the move, which is what the rest of the archive exercises.
 *
 * <p>Mid-job, one executor's Python worker is killed (SIGKILL) while it is busy in a task: that
 * task must fail, be retried, and every (prompt, measure, cell) must come out exactly once, equal
 * to the batch API's rows in this JVM. Then a job whose venv does not exist must fail fast, with
 * the reason in the driver's error and the executor's log.
 *
 * <p>It takes minutes of both cores of a small machine, so it runs only when asked for with
 * {@code -Dlens4j.cluster=true} and skips saying so otherwise: {@code ./lens4j cluster} builds the
 * assembly jar and {@code target/spark-home}, and runs it.
 */
class SparkClusterTest {
    private static final int PROMPTS = 300;
    private static final List<String> MEASURES = List.of("logit_diff", "loss");
    private static final Duration JOB_LIMIT = Duration.ofMinutes(6);
    private static final Path TARGET = Path.of("target").toAbsolutePath();

    @Test
    void aSubmittedJobRunsOnTwoExecutorJvmsSurvivesAKilledWorkerAndWritesEachRowOnce(@TempDir Path tmp) throws Exception {
        // Minutes of both cores on a small machine: only when asked for, as ./lens4j cluster does.
        Assumptions.assumeTrue(Boolean.getBoolean("lens4j.cluster"),
                "the one-machine cluster test runs with -Dlens4j.cluster=true: ./lens4j cluster builds the assembly jar and runs it");
        Path sparkHome = TARGET.resolve("spark-home");
        Path jar = assemblyJar();
        assertTrue(jar != null && Files.isDirectory(sparkHome.resolve("jars")),
                "no target/lens4j-*-assembly.jar or target/spark-home/jars: run ./lens4j assembly first (./lens4j cluster does both)");

        List<PromptRecord> prompts = IoiPrompts.generate(PROMPTS, 2026);
        Path input = tmp.resolve("prompts.jsonl");
        writeJsonLines(prompts, input);
        Path archive = venvArchive(tmp);

        try (Cluster cluster = Cluster.start(sparkHome, tmp)) {
            Path out = tmp.resolve("results.parquet");
            Instant t0 = Instant.now();
            Process submit = cluster.submit("lens4j-cluster-test", jar, archive, "lens4j-venv", tmp.resolve("driver.log"),
                    "--model", "toy-ioi", "--in", input.toString(), "--out", out.toString(),
                    "--measures", String.join(",", MEASURES), "--partitions", "8", "--chunk", "8");

            // Watch the process tree while the job runs: executors, their workers, and when to kill one.
            Map<Long, Long> workerToExecutor = new LinkedHashMap<>();
            Set<Long> executors = new LinkedHashSet<>();
            List<Long> killed = new ArrayList<>();
            Map<Long, Instant> readySince = new HashMap<>();
            int lostBefore = 0;
            Instant lastKill = null;
            while (submit.isAlive()) {
                if (Duration.between(t0, Instant.now()).compareTo(JOB_LIMIT) > 0) {
                    fail("the job did not finish within " + JOB_LIMIT + "\n" + cluster.logs());
                }
                for (ProcessHandle e : cluster.executors()) {
                    executors.add(e.pid());
                    e.children().filter(SparkClusterTest::isLensWorker).forEach(w -> workerToExecutor.putIfAbsent(w.pid(), e.pid()));
                }
                cluster.readyWorkerPids().forEach(w -> readySince.putIfAbsent(w, Instant.now()));
                int lost = count(tmp.resolve("driver.log"), "Lost task");
                boolean lastKillLanded = lost > lostBefore;
                boolean mayKill = killed.isEmpty()
                        || (!lastKillLanded && killed.size() < 4 && Duration.between(lastKill, Instant.now()).toSeconds() >= 10);
                if (mayKill && readySince.size() >= 2) {
                    // Busy a while after it said it was ready: measuring, so inside a task.
                    for (Map.Entry<Long, Instant> r : List.copyOf(readySince.entrySet())) {
                        long w = r.getKey();
                        ProcessHandle h = ProcessHandle.of(w).orElse(null);
                        if (h != null && h.isAlive() && !killed.contains(w)
                                && Duration.between(r.getValue(), Instant.now()).toSeconds() >= 2 && busy(w)) {
                            lostBefore = lost;
                            h.destroyForcibly();
                            killed.add(w);
                            lastKill = Instant.now();
                            break;
                        }
                    }
                }
                Thread.sleep(100);
            }
            double seconds = Duration.between(t0, Instant.now()).toMillis() / 1000.0;
            String driver = Files.readString(tmp.resolve("driver.log"));
            assertEquals(0, submit.exitValue(), "spark-submit failed\n" + cluster.logs());
            System.out.printf(Locale.ROOT, "lens4j cluster test: job %.1f s wall (submit to exit); %s%n", seconds, line(driver, "lens4j-job "));

            // Two executor JVMs, other than this one, each with its own worker.
            assertTrue(executors.size() >= 2, "two executor JVMs, saw " + executors + "\n" + cluster.logs());
            assertTrue(!executors.contains(ProcessHandle.current().pid()), "executors are not this JVM");
            Map<Long, Long> firstWorkerOf = new HashMap<>();
            workerToExecutor.forEach((w, e) -> firstWorkerOf.putIfAbsent(e, w));
            assertTrue(firstWorkerOf.size() >= 2, "a lens4j worker under each of two executors, saw worker -> executor " + workerToExecutor);
            List<Long> firstWorkers = List.copyOf(firstWorkerOf.values());
            assertNotEquals(firstWorkers.get(0), firstWorkers.get(1), "two distinct Python workers");
            for (String exec : cluster.executorLogs().keySet()) {
                String log = cluster.executorLogs().get(exec);
                assertTrue(log.contains("runs worker engine"), "executor " + exec + " logged its worker");
                assertTrue(log.contains("using the pre-built Python environment " + dir(exec, cluster)),
                        "executor " + exec + " used the --archives venv in its working directory:\n" + tail(log, 20));
            }

            // The kill landed in a task, which Spark ran again; the executor started a new worker.
            assertTrue(!killed.isEmpty(), "a busy worker was found and killed");
            assertTrue(count(tmp.resolve("driver.log"), "Lost task") >= 1,
                    "killing worker(s) " + killed + " failed a task\n" + cluster.logs());
            assertTrue(cluster.executorLogs().values().stream().anyMatch(l -> l.contains("restarts its lens4j worker")),
                    "an executor restarted its worker\n" + cluster.logs());
            System.out.println("lens4j cluster test: executors " + executors + ", workers -> executor " + workerToExecutor
                    + ", killed " + killed + "; driver: " + line(driver, "Lost task"));

            // Each (prompt, measure, cell) exactly once, equal to the batch API's rows.
            PromptMeasure measure = MeasureJob.combined(MEASURES);
            Map<String, Double> expected = new HashMap<>();
            double batchSeconds;
            // One torch thread, as the executors have (spark.executorEnv.OMP_NUM_THREADS=1): fair timing on a shared machine.
            try (org.lens4j.Lens lens = org.lens4j.Lens.start(TestLens.options().withWorkerEnv(Map.of("OMP_NUM_THREADS", "1")))) {
                org.lens4j.Model model = lens.load("toy-ioi");
                long b0 = System.nanoTime();
                for (PromptResult r : PromptBatch.run(model, prompts, measure, PromptBatch.Options.defaults().withChunkSize(8))) {
                    expected.put(r.key(), r.value());
                }
                batchSeconds = (System.nanoTime() - b0) / 1e9;
            }
            System.out.printf(Locale.ROOT, "lens4j cluster test: batch API in this JVM (worker and model already up): %.2f s, %.1f prompts/s%n",
                    batchSeconds, PROMPTS / batchSeconds);
            List<PromptResult> rows = readParquet(out);
            Set<String> seen = new HashSet<>();
            double maxDiff = 0;
            for (PromptResult r : rows) {
                assertTrue(seen.add(r.key()), r.key() + " appears twice");
                Double e = expected.get(r.key());
                assertTrue(e != null, "unexpected row " + r);
                maxDiff = Math.max(maxDiff, Math.abs(e - r.value()));
            }
            assertEquals(expected.keySet(), seen, "every (prompt, measure, cell) exactly once");
            assertTrue(maxDiff <= 1e-4, "cluster and batch API rows differ by up to " + maxDiff);
            System.out.printf(Locale.ROOT, "lens4j cluster test: %d rows, each once; max |cluster - batch| = %.2e%n", rows.size(), maxDiff);

            // A venv that is not there: the task fails at once, saying so, in the driver and the executor log.
            Process bad = cluster.submit("lens4j-cluster-bad-venv", jar, null, "no-such-venv", tmp.resolve("driver-bad.log"),
                    "--model", "toy-ioi", "--in", input.toString(), "--out", tmp.resolve("bad.parquet").toString(), "--partitions", "2");
            assertTrue(bad.waitFor(3, java.util.concurrent.TimeUnit.MINUTES), "the bad-venv job ended within 3 minutes");
            String badDriver = Files.readString(tmp.resolve("driver-bad.log"));
            assertNotEquals(0, bad.exitValue(), "a job whose venv is missing fails");
            assertTrue(badDriver.contains("lens4j could not start its worker on executor") && badDriver.contains("/no-such-venv (working directory ")
                    && badDriver.contains("does not exist"),
                    "the driver's error names the missing venv:\n" + tail(badDriver, 40));
            assertTrue(cluster.executorLogs().values().stream().anyMatch(l -> l.contains("/no-such-venv (working directory ")),
                    "an executor log says the venv is missing");

            // Every port that our processes listen on is on the loopback interface.
            List<String> open = cluster.nonLoopbackListeners();
            assertTrue(open.isEmpty(), "listening beyond 127.0.0.1: " + open);
        }
    }

    // ------------------------------------------------------------------ helpers

    /** Where Spark unpacked the archive for executor "app/exec": lens4j-venv in its working directory. */
    private static Path dir(String appAndExec, Cluster cluster) {
        return cluster.dir.resolve("work").resolve(appAndExec).resolve("lens4j-venv");
    }

    private static Path assemblyJar() throws IOException {
        if (!Files.isDirectory(TARGET)) {
            return null;
        }
        try (Stream<Path> s = Files.list(TARGET)) {
            return s.filter(p -> p.getFileName().toString().matches("lens4j-.*-assembly\\.jar")).findFirst().orElse(null);
        }
    }

    private static void writeJsonLines(List<PromptRecord> prompts, Path file) throws IOException {
        ObjectMapper json = new ObjectMapper();
        StringBuilder sb = new StringBuilder();
        for (PromptRecord p : prompts) {
            Map<String, String> row = new LinkedHashMap<>();
            row.put("id", p.id());
            row.put("clean", p.clean());
            row.put("corrupted", p.corrupted());
            row.put("correct", p.correct());
            row.put("incorrect", p.incorrect());
            sb.append(json.writeValueAsString(row)).append('\n');
        }
        Files.writeString(file, sb.toString());
    }

    /**
     * A .tar.gz of this machine's venv as --archives ships it: bin/ (links to the base Python),
     * pyvenv.cfg, the lens4j marker and spec copied, lib/ linking to the venv's packages.
     */
    private static Path venvArchive(Path tmp) throws IOException, InterruptedException {
        Path venv = PythonEnv.ensure(TestLens.options().home(), TestLens.options().python(), line -> { }).venv();
        Path shell = Files.createDirectories(tmp.resolve("venv-shell"));
        run(List.of("cp", "-a", venv.resolve("bin").toString(), venv.resolve("pyvenv.cfg").toString(),
                venv.resolve("lens4j-venv-complete").toString(), venv.resolve("lens4j-spec").toString(), shell.toString()));
        Files.createSymbolicLink(shell.resolve("lib"), venv.resolve("lib").toRealPath());
        Path archive = tmp.resolve("lens4j-venv.tar.gz");
        run(List.of("tar", "czf", archive.toString(), "-C", shell.toString(), "."));
        return archive;
    }

    private static void run(List<String> command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), String.join(" ", command) + ": " + out);
    }

    private static boolean isLensWorker(ProcessHandle p) {
        return p.info().commandLine().map(c -> c.contains("lens4j_bridge")).orElse(false);
    }

    /** Whether the process used CPU in the last 0.3 s (utime + stime from /proc, in clock ticks). */
    private static boolean busy(long pid) throws InterruptedException {
        long a = cpuTicks(pid);
        Thread.sleep(300);
        long b = cpuTicks(pid);
        return a >= 0 && b - a >= 5;
    }

    private static long cpuTicks(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", String.valueOf(pid), "stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return Long.parseLong(f[11]) + Long.parseLong(f[12]);
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    private static List<PromptResult> readParquet(Path out) {
        SparkSession spark = LensSpark.localSession("lens4j-cluster-readback", 1);
        try {
            return LensSpark.collect(spark.read().parquet(out.toString()));
        } finally {
            spark.stop();
        }
    }

    static int count(Path file, String needle) {
        try {
            if (!Files.exists(file)) {
                return 0;
            }
            String text = Files.readString(file);
            int n = 0;
            for (int i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + 1)) {
                n++;
            }
            return n;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static String line(String text, String needle) {
        return text.lines().filter(l -> l.contains(needle)).findFirst().orElse("(no line with '" + needle + "')");
    }

    static String tail(String text, int n) {
        List<String> lines = text.lines().toList();
        return String.join("\n", lines.subList(Math.max(0, lines.size() - n), lines.size()));
    }

    static void waitFor(String what, Duration limit, BooleanSupplier done, Cluster cluster) throws InterruptedException {
        Instant end = Instant.now().plus(limit);
        while (!done.getAsBoolean()) {
            if (Instant.now().isAfter(end)) {
                fail(what + " did not happen within " + limit.toSeconds() + " s\n" + cluster.logs());
            }
            Thread.sleep(200);
        }
    }

    // ------------------------------------------------------------------ the cluster

    /** A standalone Master and Worker in their own JVMs, bound to 127.0.0.1; close() stops them and all they started. */
    static final class Cluster implements AutoCloseable {
        private static final Pattern MASTER_URL = Pattern.compile("Starting Spark master at (spark://\\S+)");
        private static final Pattern READY = Pattern.compile("runs worker engine \\(CPython [^,]+, pid (\\d+)\\)");
        private final Path sparkHome;
        private final Path dir;
        private final List<Process> started = new ArrayList<>();
        /** Every process seen under ours, so that close() can check that none is left. */
        private final Set<ProcessHandle> seen = new LinkedHashSet<>();
        private Process master;
        private Process worker;
        private String masterUrl;

        private Cluster(Path sparkHome, Path dir) {
            this.sparkHome = sparkHome;
            this.dir = dir;
        }

        static Cluster start(Path sparkHome, Path dir) throws IOException, InterruptedException {
            Cluster c = new Cluster(sparkHome, dir);
            try {
                Files.createDirectories(dir.resolve("conf"));
                Files.createDirectories(dir.resolve("work"));
                c.master = c.java(dir.resolve("master.log"), List.of("-Xmx256m", "-Dspark.master.rest.enabled=false"),
                        "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", "0", "--webui-port", "0");
                waitFor("the Master's start", Duration.ofSeconds(90), () -> count(dir.resolve("master.log"), "Starting Spark master at") > 0, c);
                Matcher m = MASTER_URL.matcher(Files.readString(dir.resolve("master.log")));
                assertTrue(m.find(), "master URL in the log");
                c.masterUrl = m.group(1);
                c.worker = c.java(dir.resolve("worker.log"), List.of("-Xmx256m"), "org.apache.spark.deploy.worker.Worker",
                        "--host", "127.0.0.1", "--port", "0", "--webui-port", "0", "--cores", "2", "--memory", "3g",
                        "--work-dir", dir.resolve("work").toString(), c.masterUrl);
                waitFor("the Worker's registration", Duration.ofSeconds(90),
                        () -> count(dir.resolve("worker.log"), "Successfully registered with master") > 0, c);
                return c;
            } catch (IOException | InterruptedException | RuntimeException | Error e) {
                c.close();
                throw e;
            }
        }

        /** spark-submit, as bin/spark-submit runs it: the SparkSubmit class with Spark's jars and module options. */
        Process submit(String name, Path jar, Path archive, String venv, Path log, String... args) throws IOException {
            List<String> command = new ArrayList<>(List.of("--master", masterUrl, "--deploy-mode", "client", "--name", name,
                    "--class", MeasureJob.class.getName(),
                    "--conf", "spark.executor.cores=1", "--conf", "spark.cores.max=2", "--conf", "spark.executor.memory=1g",
                    "--conf", "spark.driver.host=127.0.0.1", "--conf", "spark.driver.bindAddress=127.0.0.1",
                    "--conf", "spark.ui.enabled=false",
                    // Start measuring only once both executors are there, so that each gets tasks.
                    "--conf", "spark.scheduler.minRegisteredResourcesRatio=1.0",
                    "--conf", "spark.scheduler.maxRegisteredResourcesWaitingTime=120s",
                    "--conf", "spark.locality.wait=0",
                    "--conf", "spark.executorEnv.LENS4J_VENV=" + venv,
                    "--conf", "spark.executorEnv.OMP_NUM_THREADS=1"));
            if (archive != null) {
                command.addAll(List.of("--archives", archive + "#lens4j-venv"));
            } else {
                // The failure path needs one executor and no retries.
                command.addAll(List.of("--conf", "spark.task.maxFailures=1", "--conf", "spark.cores.max=1"));
            }
            command.add(jar.toString());
            command.addAll(List.of(args));
            return java(log, List.of("-Xmx768m"), "org.apache.spark.deploy.SparkSubmit", command.toArray(String[]::new));
        }

        private Process java(Path log, List<String> jvm, String main, String... args) throws IOException {
            List<String> command = new ArrayList<>();
            command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            command.add("-cp");
            command.add(sparkHome.resolve("jars") + "/*");
            command.add("@" + Path.of("src/main/config/spark-jvm.options").toAbsolutePath());
            command.addAll(jvm);
            command.add(main);
            command.addAll(List.of(args));
            ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
            Map<String, String> env = pb.environment();
            env.put("SPARK_HOME", sparkHome.toString());
            env.put("SPARK_SCALA_VERSION", "2.13"); // Spark's launcher asks for it outside a distribution
            env.put("SPARK_LOCAL_IP", "127.0.0.1"); // the web UIs bind here, not to every interface
            env.put("SPARK_CONF_DIR", dir.resolve("conf").toString());
            env.put("JAVA_HOME", System.getProperty("java.home"));
            env.remove(org.lens4j.engine.worker.PrebuiltVenv.ENV);
            Process p = pb.start();
            started.add(p);
            return p;
        }

        /** The executor JVMs under the Worker now. */
        List<ProcessHandle> executors() {
            List<ProcessHandle> list = worker.descendants()
                    .filter(p -> p.info().commandLine().map(c -> c.contains("CoarseGrainedExecutorBackend")).orElse(false))
                    .toList();
            remember();
            return list;
        }

        private void remember() {
            for (Process p : started) {
                seen.add(p.toHandle());
                p.descendants().forEach(seen::add);
            }
        }

        /** Workers that an executor log says are up ("runs worker engine (..., pid N)"). */
        Set<Long> readyWorkerPids() {
            Set<Long> pids = new HashSet<>();
            for (String log : executorLogs().values()) {
                Matcher m = READY.matcher(log);
                while (m.find()) {
                    pids.add(Long.parseLong(m.group(1)));
                }
            }
            return pids;
        }

        /** work/app-*\/exec-id/stderr by "app/exec". */
        Map<String, String> executorLogs() {
            Map<String, String> logs = new LinkedHashMap<>();
            try (Stream<Path> s = Files.walk(dir.resolve("work"), 3)) {
                for (Path p : s.filter(f -> f.getFileName().toString().equals("stderr")).sorted().toList()) {
                    logs.put(p.getParent().getParent().getFileName() + "/" + p.getParent().getFileName(), Files.readString(p));
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return logs;
        }

        String logs() {
            StringBuilder sb = new StringBuilder();
            for (String name : List.of("master.log", "worker.log", "driver.log", "driver-bad.log")) {
                Path p = dir.resolve(name);
                try {
                    if (Files.exists(p)) {
                        sb.append("---- ").append(name).append(" (tail)\n").append(tail(Files.readString(p), 30)).append('\n');
                    }
                } catch (IOException e) {
                    sb.append("---- ").append(name).append(": ").append(e).append('\n');
                }
            }
            executorLogs().forEach((k, v) -> sb.append("---- executor ").append(k).append(" (tail)\n").append(tail(v, 30)).append('\n'));
            return sb.toString();
        }

        /**
         * Listening TCP sockets of our processes that are not on a loopback address, read from
         * /proc (each process's socket inodes against /proc/net/tcp and tcp6).
         */
        List<String> nonLoopbackListeners() throws IOException {
            remember();
            Map<String, String> listening = new HashMap<>(); // inode -> local address (hex)
            for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
                for (String row : Files.readAllLines(Path.of(table)).stream().skip(1).toList()) {
                    String[] f = row.trim().split("\\s+");
                    if (f.length > 9 && f[3].equals("0A")) {
                        listening.put(f[9], f[1]);
                    }
                }
            }
            List<String> bad = new ArrayList<>();
            for (ProcessHandle p : seen) {
                if (!p.isAlive()) {
                    continue;
                }
                try (Stream<Path> fds = Files.list(Path.of("/proc", String.valueOf(p.pid()), "fd"))) {
                    for (Path fd : fds.toList()) {
                        String target;
                        try {
                            target = Files.readSymbolicLink(fd).toString();
                        } catch (IOException e) {
                            continue; // closed meanwhile
                        }
                        if (target.startsWith("socket:[")) {
                            String address = listening.get(target.substring(8, target.length() - 1));
                            if (address != null && !isLoopback(address)) {
                                bad.add("pid " + p.pid() + " " + address);
                            }
                        }
                    }
                } catch (IOException e) {
                    // the process ended meanwhile
                }
            }
            return bad;
        }

        /** 127.x.x.x in /proc's hex (little-endian per 32-bit word), IPv4, IPv4-mapped IPv6, or ::1. */
        static boolean isLoopback(String hexAddressPort) {
            String a = hexAddressPort.substring(0, hexAddressPort.indexOf(':'));
            if (a.length() == 8) {
                return a.endsWith("7F"); // 127.x.x.x
            }
            return a.startsWith("0000000000000000FFFF0000") && a.endsWith("7F") // ::ffff:127.x.x.x
                    || a.equals("00000000000000000000000001000000"); // ::1
        }

        @Override
        public void close() {
            remember();
            // Worker first: its shutdown kills its executors, whose shutdown closes their lens4j workers.
            for (Process p : List.of(started.reversed().toArray(Process[]::new))) {
                p.destroy();
            }
            Instant end = Instant.now().plusSeconds(30);
            for (Process p : started) {
                try {
                    p.waitFor(Math.max(1, Duration.between(Instant.now(), end).toMillis()), java.util.concurrent.TimeUnit.MILLISECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            // Whatever is left (a worker whose executor was killed hard) is killed now.
            seen.stream().filter(ProcessHandle::isAlive).forEach(ProcessHandle::destroyForcibly);
            List<Long> left = new ArrayList<>();
            for (ProcessHandle h : seen) {
                try {
                    h.onExit().get(10, java.util.concurrent.TimeUnit.SECONDS);
                } catch (Exception e) {
                    left.add(h.pid());
                }
            }
            assertTrue(left.isEmpty(), "processes still running after the cluster stopped: " + left);
        }
    }
}
