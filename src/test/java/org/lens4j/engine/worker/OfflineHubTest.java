package org.lens4j.engine.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lens4j.ChildJvm;
import org.lens4j.ErrorKind;
import org.lens4j.Lens;
import org.lens4j.LensException;
import org.lens4j.TestLens;

/**
 * lens4j's offline default says so when a hub name does not load, and how to go online; HF_HOME
 * and HF_TOKEN from the JVM's environment reach the worker, so a hub name loads from a Hugging
 * Face cache offline (a real cache layout: models--org--name/snapshots/REV, refs/main).
 */
class OfflineHubTest {

    @Test
    void aHubNameOfflineSaysLens4jIsOfflineAndHowToGoOnline() {
        LensException e = assertThrows(LensException.class, () -> TestLens.lens().load("google/gemma-2-9b"));
        assertEquals(ErrorKind.UNKNOWN_MODEL, e.kind());
        assertTrue(e.getMessage().contains("lens4j runs offline by default"), e.getMessage());
        assertTrue(e.getMessage().contains("LENS4J_OFFLINE=0"), e.getMessage());
        assertTrue(e.getMessage().contains("withOffline(false)"), e.getMessage());
    }

    @Test
    void hfHomeAndHfTokenReachTheWorkerAndAHubNameLoadsFromTheCacheOffline(@TempDir Path tmp) throws Exception {
        Path hfHome = tmp.resolve("hf");
        Path repo = hfHome.resolve("hub").resolve("models--lens4j-test--tiny-gpt2");
        String rev = "0123456789abcdef0123456789abcdef01234567";
        copyTree(TestLens.tinyModelDir(), repo.resolve("snapshots").resolve(rev));
        Files.createDirectories(repo.resolve("refs"));
        Files.writeString(repo.resolve("refs").resolve("main"), rev);

        ProcessBuilder pb = ChildJvm.command(ChildJvm.classPathOf(Lens.class, HubCacheChild.class, ObjectMapper.class,
                JsonFactory.class, JsonProperty.class), HubCacheChild.class);
        pb.environment().put("HF_HOME", hfHome.toString());
        pb.environment().put("HF_TOKEN", "hf_not_a_real_token");
        // Online as far as lens4j goes, while the hub stays unreachable: the user's own HF_HUB_OFFLINE.
        pb.environment().put("LENS4J_OFFLINE", "0");
        pb.environment().put("HF_HUB_OFFLINE", "1");
        ChildJvm run = ChildJvm.run(pb, 240);
        String out = run.output();
        assertEquals(0, run.exitCode(), out);
        assertTrue(out.contains("loaded lens4j-test/tiny-gpt2 from hub, 2 layers"), out);
        assertTrue(out.contains("the Hugging Face cache is " + hfHome.resolve("hub")), out);
        assertTrue(out.contains("HF_HUB_OFFLINE is set in your environment"), out);
        assertTrue(out.contains("HF_TOKEN, needed for gated models, is set"), out);
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> files = Files.walk(from)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Path target = to.resolve(from.relativize(f).toString());
                if (Files.isDirectory(f)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(f, target);
                }
            }
        }
    }
}
