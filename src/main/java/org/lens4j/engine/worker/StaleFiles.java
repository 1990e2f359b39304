package org.lens4j.engine.worker;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Removes what a JVM killed in the middle of starting a worker may have left: socket folders
 * {@code <tmp>/lens4j-<jvm pid>-*} (a JVM that dies after making the folder and before the
 * worker runs leaves one that no process will remove) and, from lens4j versions that named
 * the arena, {@code /dev/shm/lens4j-<jvm pid>-*} files.
 *
 * <p>Only what this user owns, whose JVM pid is no longer running, and (for folders) that
 * hold nothing but a socket is removed; anything else is left as it is. Runs at every
 * worker start, costing one listing of each folder.
 *
 * <pre>{@code
 * List<Path> removed = StaleFiles.sweep();
 * }</pre>
 */
final class StaleFiles {
    private static final Pattern NAME = Pattern.compile("lens4j-(\\d{1,10})-.+");

    private StaleFiles() {
    }

    /** Sweep the temp folder and /dev/shm; returns what was removed. Never throws. */
    static List<Path> sweep() {
        List<Path> removed = new ArrayList<>();
        sweepFolders(Path.of(System.getProperty("java.io.tmpdir")), removed);
        sweepArenaFiles(Path.of("/dev/shm"), removed);
        return removed;
    }

    static void sweepFolders(Path tmp, List<Path> removed) {
        for (Path dir : staleEntries(tmp)) {
            try {
                PosixFileAttributes a = Files.readAttributes(dir, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                if (!a.isDirectory() || a.permissions().contains(PosixFilePermission.GROUP_EXECUTE)
                        || a.permissions().contains(PosixFilePermission.OTHERS_EXECUTE)) {
                    continue; // not a folder lens4j made (those are 0700)
                }
                Files.deleteIfExists(WorkerProcess.socketPath(dir));
                Files.delete(dir); // fails, and stays, if it holds anything else
                removed.add(dir);
            } catch (IOException | RuntimeException ignored) {
                // another user's, or in use after all: leave it
            }
        }
    }

    static void sweepArenaFiles(Path shm, List<Path> removed) {
        for (Path file : staleEntries(shm)) {
            try {
                if (Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
                    Files.delete(file);
                    removed.add(file);
                }
            } catch (IOException | RuntimeException ignored) {
                // another user's: leave it
            }
        }
    }

    /** Entries named lens4j-<pid>-* that this user owns and whose pid runs no process. */
    private static List<Path> staleEntries(Path folder) {
        List<Path> found = new ArrayList<>();
        if (!Files.isDirectory(folder)) {
            return found;
        }
        String me = System.getProperty("user.name");
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(folder, "lens4j-*")) {
            for (Path p : entries) {
                Matcher m = NAME.matcher(p.getFileName().toString());
                if (!m.matches()) {
                    continue;
                }
                long pid = Long.parseLong(m.group(1));
                if (pid == ProcessHandle.current().pid() || ProcessHandle.of(pid).isPresent()) {
                    continue; // its JVM runs (or the pid was reused: leave it for a later start)
                }
                try {
                    if (Files.getOwner(p, LinkOption.NOFOLLOW_LINKS).getName().equals(me)) {
                        found.add(p);
                    }
                } catch (IOException | RuntimeException ignored) {
                    // gone meanwhile
                }
            }
        } catch (IOException | RuntimeException ignored) {
            // an unreadable folder: nothing to sweep
        }
        return found;
    }
}
