package org.lens4j.engine.worker;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The Java end of the shared-memory arena (see lens4j_bridge/arena.py): an anonymous file
 * (memfd) that the worker creates and both sides map, used as a bounce buffer for large blobs.
 *
 * <p>It never has a name in /dev/shm: Java opens it through {@code /proc/<worker pid>/fd/<fd>}
 * (which only the worker's own user may open), so nothing can be left behind whichever
 * process dies, and when. Only one mapping of at most 2 GiB is supported; a larger blob
 * travels inline over the socket instead.
 */
final class Arena implements AutoCloseable {
    static final int ALIGN = 64;
    static final long MAX_SIZE = Integer.MAX_VALUE & ~(ALIGN - 1L);
    private static final long INITIAL_SIZE = 16L << 20;

    private final FileChannel channel;
    private MappedByteBuffer map;
    private long size;

    private Arena(FileChannel channel) throws IOException {
        this.channel = channel;
        grow(INITIAL_SIZE);
    }

    /** Map the worker's arena, the anonymous file it holds open as {@code fd}. */
    static Arena openWorkers(long workerPid, int fd) throws IOException {
        Path path = Path.of("/proc", Long.toString(workerPid), "fd", Integer.toString(fd));
        FileChannel channel = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
        return new Arena(channel);
    }

    static long align(long n) {
        return (n + ALIGN - 1) / ALIGN * ALIGN;
    }

    long size() {
        return size;
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
        try {
            channel.close();
        } catch (IOException ignored) {
            // closing a file we own cannot fail in a way the caller could act on
        }
        map = null;
    }
}
