package org.lens4j.data;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.concurrent.TimeUnit;
import org.lens4j.Blob;
import org.lens4j.TestLens;
import org.lens4j.engine.Json;

/** Runs python/tests/npy_interop.py with numpy in the project's venv (found or made as every test finds it). */
final class Numpy {
    private Numpy() {
    }

    /** What numpy found in {@code in} (report.json); numpy's own files are in {@code out/numpy}. */
    static JsonNode run(Path in, Path out) throws IOException, InterruptedException {
        Path script = Path.of("python/tests/npy_interop.py").toAbsolutePath();
        Process p = new ProcessBuilder(TestLens.venvPython().toString(), script.toString(), in.toString(), out.toString())
                .redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException("npy_interop.py failed:\n" + output);
        }
        return Json.MAPPER.readTree(Files.readString(out.resolve("report.json")));
    }

    static String hex(Blob b) {
        byte[] bytes = new byte[b.nbytes()];
        b.data().get(bytes);
        return HexFormat.of().formatHex(bytes);
    }
}
