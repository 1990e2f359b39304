package org.lens4j.engine.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lens4j.ChildJvm;

/**
 * The venv build's pip: its download cache lives under LENS4J_HOME (unless the user chose one),
 * and the CPU-only route the README documents works: PIP_FIND_LINKS naming a folder of local
 * wheels (here one hand-made wheel, with the index off) reaches the build's pip and installs
 * from it. The spec holds only that wheel, so the build then stops at its torch import check,
 * after pip install succeeded.
 */
class PipRouteTest {
    @TempDir
    Path tmp;

    @Test
    void pipCacheIsUnderLens4jHomeUnlessTheUserChoseOne() {
        Path home = Path.of("/h");
        assertEquals(home.resolve("pip-cache"), PythonEnv.pipCacheDir(home, Map.of("PATH", "/bin")));
        assertNull(PythonEnv.pipCacheDir(home, Map.of("PIP_CACHE_DIR", "/elsewhere")));
        assertNull(PythonEnv.pipCacheDir(home, Map.of("PIP_NO_CACHE_DIR", "1")));
    }

    @Test
    void aLocalWheelFolderInPipFindLinksIsUsedAndTheCacheIsUnderLens4jHome() throws Exception {
        PythonEnv.BasePython base;
        try {
            base = PythonEnv.findBasePython(System.getenv("LENS4J_PYTHON"), PythonEnv.systemPath());
        } catch (PythonEnvException e) {
            assumeTrue(false, "no Python >= 3.10 here: " + e.getMessage());
            return;
        }
        Path wheels = Files.createDirectories(tmp.resolve("wheels"));
        writeWheel(wheels.resolve("lens4jprobe-1.0-py3-none-any.whl"));
        Path spec = Files.createDirectories(tmp.resolve("spec"));
        Files.writeString(spec.resolve("requirements.txt"), "lens4jprobe==1.0\n");
        Path home = tmp.resolve("home");

        ProcessBuilder pb = ChildJvm.command(ChildJvm.classPathOf(PythonEnv.class, PipRouteChild.class), PipRouteChild.class,
                home.toString(), spec.toString());
        pb.environment().put("LENS4J_PYTHON", base.executable().toString());
        pb.environment().put("PIP_FIND_LINKS", wheels.toString());
        pb.environment().put("PIP_NO_INDEX", "1");
        pb.environment().remove("PIP_CACHE_DIR");
        pb.environment().remove("PIP_NO_CACHE_DIR");
        ChildJvm run = ChildJvm.run(pb, 300);
        String out = run.output();
        assertEquals(0, run.exitCode(), out);
        assertTrue(out.contains("progress: lens4j: pip downloads about 2.9 GB"), "the size is said up front: " + out);
        assertTrue(out.contains("stopped at step: verify imports"), "pip install passed, torch's import check did not: " + out);
        Path log;
        try (Stream<Path> logs = Files.list(home.resolve("venvs"))) {
            log = logs.filter(f -> f.toString().endsWith(".log")).findFirst().orElseThrow();
        }
        String text = Files.readString(log);
        assertTrue(text.contains("Successfully installed lens4jprobe-1.0"), text);
        assertTrue(text.contains("--cache-dir " + home.resolve("pip-cache")), text);
    }

    /** A minimal pure-Python wheel: one module and the three dist-info files pip reads. */
    private static void writeWheel(Path file) throws IOException {
        Map<String, String> entries = new java.util.LinkedHashMap<>();
        entries.put("lens4jprobe/__init__.py", "VALUE = 42\n");
        entries.put("lens4jprobe-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: lens4jprobe\nVersion: 1.0\n");
        entries.put("lens4jprobe-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: lens4j-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n");
        StringBuilder record = new StringBuilder();
        for (String name : entries.keySet()) {
            record.append(name).append(",,\n");
        }
        record.append("lens4jprobe-1.0.dist-info/RECORD,,\n");
        entries.put("lens4jprobe-1.0.dist-info/RECORD", record.toString());
        try (OutputStream os = Files.newOutputStream(file); ZipOutputStream zip = new ZipOutputStream(os)) {
            for (Map.Entry<String, String> e : entries.entrySet()) {
                zip.putNextEntry(new ZipEntry(e.getKey()));
                zip.write(e.getValue().getBytes(StandardCharsets.UTF_8));
                zip.closeEntry();
            }
        }
    }
}
