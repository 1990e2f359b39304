package org.lens4j.engine.worker;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.UUID;

/**
 * The Java end of the shared-memory arena (see lens4j_bridge/arena.py): a file in /dev/shm
 * (or the temp folder) that both sides map, used as a bounce buffer for large blobs.
 *
 * <p>The file is created 0600 and unlinked as soon as the worker has opened it, so nothing
 * is left behind whatever happens to either process. Only one mapping of at most 2 GiB is
 * supported; a larger blob travels inline over the socket instead.
 */
final class Arena implements AutoCloseable {
    static final int ALIGN = 64;
    static final long MAX_SIZE = Integer.MAX_VALUE & ~(ALIGN - 1L);
    private static final long INITIAL_SIZE = 16L << 20;

    private final Path path;
    private final FileChannel channel;
    private MappedByteBuffer map;
    private long size;

    private Arena(Path path, FileChannel channel) throws IOException {
        this.path = path;
        this.channel = channel;
        grow(INITIAL_SIZE);
    }

    static Arena create() throws IOException {
        Path shm = Path.of("/dev/shm");
        Path dir = Files.isDirectory(shm) && Files.isWritable(shm) ? shm : Path.of(System.getProperty("java.io.tmpdir"));
        Path path = dir.resolve("lens4j-" + ProcessHandle.current().pid() + "-" + UUID.randomUUID());
        Files.createFile(path, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        FileChannel channel = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
        return new Arena(path, channel);
    }

    static long align(long n) {
        return (n + ALIGN - 1) / ALIGN * ALIGN;
    }

    Path path() {
        return path;
    }

    long size() {
        return size;
    }

    /** Remove the file's name; both mappings stay valid. Called once the worker has opened it. */
    void unlink() {
        try {
            Files.deleteIfExists(path);
        } catch (IOException ignored) {
            // a leftover name in /dev/shm is harmless and the OS cleans it at reboot
        }
    }

    /** Make room for {@code needed} bytes, growing the file by doubling. */
    void ensure(long needed) throws IOException {
        if (needed > size) {
            grow(Math.min(MAX_SIZE, Math.max(needed, size * 2)));
        }
    }

    /** Remap after the worker grew the file to {@code newSize}. */
    void syncTo(long newSize) throws IOException {
        if (newSize > size) {
            long actual = channel.size();
            if (actual < newSize) {
                throw new IOException("arena is " + actual + " bytes but the worker says " + newSize);
            }
            remap(actual);
        }
    }

    private void grow(long newSize) throws IOException {
        if (newSize > MAX_SIZE) {
            throw new IOException("arena cannot grow past " + MAX_SIZE + " bytes");
        }
        if (channel.size() < newSize) {
            channel.write(ByteBuffer.wrap(new byte[] {0}), newSize - 1);
        }
        remap(newSize);
    }

    private void remap(long newSize) throws IOException {
        map = channel.map(FileChannel.MapMode.READ_WRITE, 0, newSize);
        map.order(ByteOrder.LITTLE_ENDIAN);
        size = newSize;
    }

    /** A little-endian view of {@code [offset, offset + length)}. */
    ByteBuffer slice(long offset, int length) {
        if (offset < 0 || offset + length > size) {
            throw new IndexOutOfBoundsException("arena range [" + offset + ", +" + length + ") outside " + size);
        }
        return map.slice((int) offset, length).order(ByteOrder.LITTLE_ENDIAN);
    }

    @Override
    public void close() {
        unlink();
        try {
            channel.close();
        } catch (IOException ignored) {
            // closing a file we own cannot fail in a way the caller could act on
        }
        map = null;
    }
}
