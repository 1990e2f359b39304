package org.lens4j;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.lens4j.engine.worker.PythonEnv;
import org.lens4j.internal.LensAccess;

/**
 * The one worker that the test classes of a JVM run share (tests that need a fresh worker
 * start their own), and the project's tiny test model, built on first use. Public for the
 * tests of lens4j's other packages.
 */
public final class TestLens {
    public static final String PROMPT = "When John and Mary went to the shops, John gave the bag to";
    private static Lens lens;
    private static Model tiny;

    private TestLens() {
    }

    public static EngineOptions options() {
        return EngineOptions.defaults().withDevice("cpu");
    }

    public static synchronized Lens lens() {
        if (lens == null || !lens.isAlive()) {
            lens = Lens.start(options());
            System.out.println("tests: the shared " + lens); // which engine this JVM's suites run on
            Lens started = lens;
            Runtime.getRuntime().addShutdownHook(new Thread(started::close));
        }
        return lens;
    }

    public static synchronized Path tinyModelDir() {
        Path dir = Path.of("target", "test-models", "tiny-gpt2").toAbsolutePath();
        LensAccess.ops(lens()).call("model.make_tiny", Map.of("out_dir", dir.toString(), "n_layers", 2, "d_model", 64, "n_heads", 4));
        return dir;
    }

    /** The tiny model, loaded once; tests must not close it. */
    public static synchronized Model tiny() {
        if (tiny == null || tiny.isClosed()) {
            tiny = lens().load(tinyModelDir());
        }
        return tiny;
    }

    public static Path venvPython() {
        return PythonEnv.ensure(options().home(), options().python(), line -> { }).python();
    }

    /** Run python/tests/reference_tl.py (TransformerLens directly, in its own process) and return its output folder. */
    public static Path reference(List<String> args) throws IOException, InterruptedException {
        return reference("reference_tl.py", args);
    }

    /** Run a reference script of python/tests in its own process; "$OUT" in the arguments is its output folder. */
    public static Path reference(String script, List<String> args) throws IOException, InterruptedException {
        Path out = Files.createTempDirectory("lens4j-ref-");
        List<String> command = new ArrayList<>(List.of(venvPython().toString(), "python/tests/" + script));
        command.addAll(args.stream().map(a -> a.equals("$OUT") ? out.toString() : a).toList());
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(300, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException(script + " failed: " + output);
        }
        return out;
    }

    public static float[] readF32(Path file) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        float[] out = new float[b.remaining() / 4];
        b.asFloatBuffer().get(out);
        return out;
    }

    public static float maxAbsDiff(float[] a, float[] b) {
        if (a.length != b.length) {
            throw new AssertionError("lengths differ: " + a.length + " vs " + b.length);
        }
        float max = 0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs(a[i] - b[i]));
        }
        return max;
    }
}
