package org.lens4j.engine.worker;

import org.lens4j.internal.LensAccess;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lens4j.Lens;
import org.lens4j.TestLens;

/**
 * A venv used as it is through LENS4J_VENV (the property lens4j.venv here): a real copy of this
 * machine's venv at another path runs the real worker, and what cannot work says why.
 */
class PrebuiltVenvTest {

    @Test
    void aVenvMovedToAnotherPathRunsTheWorkerWithoutPip() throws Exception {
        Path venv = PythonEnv.ensure(TestLens.options().home(), TestLens.options().python(), line -> { }).venv();
        // A copy of every file (hard links: the same bytes, a new path) beside the original, on the same disk.
        Path moved = venv.getParent().resolve("test-moved-" + UUID.randomUUID()).resolve("lens4j-venv");
        Files.createDirectories(moved.getParent());
        try {
            Process cp = new ProcessBuilder("cp", "-al", venv.toString(), moved.toString()).redirectErrorStream(true).start();
            String out = new String(cp.getInputStream().readAllBytes());
            assertEquals(0, cp.waitFor(), "cp -al: " + out);

            List<String> log = new ArrayList<>();
            PythonEnv env = PrebuiltVenv.open(moved, TestLens.options().home(), log::add);
            assertEquals(moved.resolve("bin/python"), env.python());
            assertTrue(log.get(0).contains("using the pre-built Python environment " + moved), log.toString());
            // The scripts in bin/ still name the old path; lens4j only runs bin/python, which does not care.
            assertTrue(Files.readString(moved.resolve("bin/pip")).contains(venv.toString()), "pip's first line names where the venv was made");

            System.setProperty(PrebuiltVenv.PROPERTY, moved.toString());
            double here;
            long pid;
            try (Lens lens = Lens.start(TestLens.options())) {
                pid = ((WorkerEngine) LensAccess.engine(lens)).pid();
                // argv[0] as started (ProcessHandle.Info gives the link's resolved target, the base Python).
                String argv0 = Files.readString(Path.of("/proc", String.valueOf(pid), "cmdline")).split("\0")[0];
                assertEquals(moved.resolve("bin/python").toString(), argv0, "the worker runs the moved venv's python");
                here = lens.load("toy-ioi").loss(TestLens.PROMPT);
            } finally {
                System.clearProperty(PrebuiltVenv.PROPERTY);
            }
            double reference = TestLens.lens().load("toy-ioi").loss(TestLens.PROMPT);
            assertEquals(reference, here, 1e-6, "the moved venv computes what the original does");
        } finally {
            PythonEnv.deleteTree(moved.getParent());
        }
    }

    @Test
    void aMissingFolderIsRefusedSayingWhereItLooked(@TempDir Path tmp) {
        PythonEnvException e = assertThrows(PythonEnvException.class, () -> PrebuiltVenv.open(tmp.resolve("lens4j-venv"), tmp, null));
        assertTrue(e.getMessage().contains(tmp.resolve("lens4j-venv") + " (working directory ") && e.getMessage().contains("does not exist")
                && e.getMessage().contains("--archives"), e.getMessage());
    }

    @Test
    void aFolderThatIsNoFinishedLens4jVenvIsRefused(@TempDir Path tmp) throws IOException {
        Path half = Files.createDirectories(tmp.resolve("half/bin"));
        PythonEnvException e = assertThrows(PythonEnvException.class, () -> PrebuiltVenv.open(half.getParent(), tmp, null));
        assertTrue(e.getMessage().contains("not a complete lens4j venv") && e.getMessage().contains(PythonEnv.MARKER), e.getMessage());
    }

    @Test
    void aVenvWhoseBasePythonIsNotOnThisMachineSaysSo(@TempDir Path tmp) throws IOException {
        Path v = Files.createDirectories(tmp.resolve("v"));
        Files.createDirectories(v.resolve("bin"));
        Files.writeString(v.resolve(PythonEnv.MARKER), "version=3.11.7\nexecutable=/opt/elsewhere/python3.11\n");
        Files.writeString(v.resolve("pyvenv.cfg"), "home = /opt/elsewhere\n");
        Files.createSymbolicLink(v.resolve("bin/python"), Path.of("/opt/elsewhere/python3.11"));
        PythonEnvException e = assertThrows(PythonEnvException.class, () -> PrebuiltVenv.open(v, tmp, null));
        assertTrue(e.getMessage().contains("links to /opt/elsewhere/python3.11, which does not exist on this machine")
                && e.getMessage().contains("home = /opt/elsewhere"), e.getMessage());
    }
}
