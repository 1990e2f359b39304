package org.lens4j.engine.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The sweep at start removes what a JVM killed during an earlier start left (its pid is gone),
 * and nothing else: not a live JVM's folder, not a folder that holds more than a socket, not
 * a folder others may enter.
 */
class StaleFilesTest {
    @TempDir
    Path tmp;

    @Test
    void removesOnlyWhatDeadJvmsLeft() throws Exception {
        Process gone = new ProcessBuilder("true").start();
        gone.waitFor();
        long dead = gone.pid();
        long live = ProcessHandle.current().pid();
        var privateDir = PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------"));

        Path stale = Files.createDirectory(tmp.resolve("lens4j-" + dead + "-123"), privateDir);
        Files.createFile(stale.resolve("worker.sock"));
        Path staleEmpty = Files.createDirectory(tmp.resolve("lens4j-" + dead + "-456"), privateDir);
        Path liveOne = Files.createDirectory(tmp.resolve("lens4j-" + live + "-789"), privateDir);
        Path withMore = Files.createDirectory(tmp.resolve("lens4j-" + dead + "-abc"), privateDir);
        Files.createFile(withMore.resolve("notes.txt"));
        Path open = Files.createDirectory(tmp.resolve("lens4j-" + dead + "-def"),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
        Path shm = Files.createDirectory(tmp.resolve("shm"));
        Path staleArena = Files.createFile(shm.resolve("lens4j-" + dead + "-0f0f"));
        Path liveArena = Files.createFile(shm.resolve("lens4j-" + live + "-0f0f"));
        Path otherName = Files.createFile(shm.resolve("lens4j-arena"));

        List<Path> removed = new ArrayList<>();
        StaleFiles.sweepFolders(tmp, removed);
        StaleFiles.sweepArenaFiles(shm, removed);

        assertEquals(Set.of(stale, staleEmpty, staleArena), Set.copyOf(removed));
        for (Path p : List.of(stale, staleEmpty, staleArena)) {
            assertFalse(Files.exists(p), p + " stayed");
        }
        for (Path p : List.of(liveOne, withMore, withMore.resolve("notes.txt"), open, liveArena, otherName)) {
            assertTrue(Files.exists(p), p + " was removed");
        }
    }
}
