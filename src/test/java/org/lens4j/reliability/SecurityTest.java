package org.lens4j.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.lens4j.Lens;
import org.lens4j.engine.worker.WorkerEngine;

/**
 * The worker lets no one else in: a private socket, no network listener, no secret on the
 * command line or in the environment, and a connection that does not start with the right
 * token is closed before anything runs (probed with bridge.exit, which would kill the worker).
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class SecurityTest {
    private static Lens lens;
    private static WorkerEngine worker;

    @BeforeAll
    static void start() {
        lens = Lens.start(Faults.options());
        worker = Faults.worker(lens);
    }

    @AfterAll
    static void stop() {
        lens.close();
    }

    @Test
    void theSocketIsPrivateAndAlone() throws IOException {
        Path dir = worker.socketDir();
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir)));
        assertEquals(System.getProperty("user.name"), Files.getOwner(dir).getName());
        Path socket = dir.resolve("worker.sock");
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(socket)));
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(socket), files.toList(), "only the socket lives in the private folder");
        }
    }

    @Test
    void theWorkerHasNoNetworkSocketAtAll() throws IOException {
        long pid = worker.pid();
        Set<String> sockets = Faults.socketInodes(pid);
        assertFalse(sockets.isEmpty(), "the worker should hold its Unix sockets");
        assertEquals(List.of(), Faults.inetSocketsOf(pid), "the worker holds a TCP/UDP/raw socket");
        Set<String> unix = Faults.netTableInodes(pid, "unix");
        assertTrue(unix.containsAll(sockets), "every socket of the worker is a Unix socket: " + sockets);
        // And the one it listens on is the private path.
        String listening = Files.readAllLines(Path.of("/proc/" + pid + "/net/unix")).stream()
                .filter(l -> l.endsWith(worker.socketDir().resolve("worker.sock").toString()))
                .findFirst().orElse("");
        assertFalse(listening.isEmpty(), "no listening Unix socket at the private path");
    }

    @Test
    void theTokenIsNeitherOnTheCommandLineNorInTheEnvironment() throws IOException {
        long pid = worker.pid();
        String cmdline = new String(Files.readAllBytes(Path.of("/proc/" + pid + "/cmdline")), StandardCharsets.UTF_8);
        String environ = new String(Files.readAllBytes(Path.of("/proc/" + pid + "/environ")), StandardCharsets.UTF_8);
        for (String text : List.of(cmdline, environ)) {
            assertFalse(text.matches("(?s).*[0-9a-f]{64}.*"), "a 256-bit hex secret is visible: " + text.replace('\0', ' '));
        }
    }

    @Test
    void aConnectionWithoutTheTokenIsClosedBeforeAnyOpRuns() throws Exception {
        long pid = worker.pid();
        String exit = "{\"kind\":\"call\",\"id\":1,\"op\":\"bridge.exit\",\"args\":{\"code\":99}}";
        // No hello at all.
        assertClosedBy(frame(exit, 0));
        // A hello with a wrong token (right length), then the call.
        assertClosedBy(frame("{\"kind\":\"hello\",\"token\":\"" + "ab".repeat(32) + "\"}", 0), frame(exit, 0));
        // A hello without a token, and one whose token is not a string.
        assertClosedBy(frame("{\"kind\":\"hello\"}", 0), frame(exit, 0));
        assertClosedBy(frame("{\"kind\":\"hello\",\"token\":[1,2]}", 0), frame(exit, 0));
        // The call first, with the hello after it.
        assertClosedBy(frame(exit, 0), frame("{\"kind\":\"hello\",\"token\":\"x\"}", 0));
        assertTrue(Faults.running(pid), "an unauthenticated bridge.exit ran");
        assertEquals(pid, Faults.worker(lens).pid());
        Faults.assertAliveAndWorking(lens);
    }

    @Test
    void anUnauthenticatedPeerCannotMakeTheWorkerAllocateOrWait() throws Exception {
        long pid = worker.pid();
        long rss = Faults.rssKb(pid);
        // A hello that announces an 8 GiB payload, and one with a 16 MiB header: refused at the prefix.
        for (ByteBuffer claim : List.of(prefix(40, 8L << 30), prefix(16 << 20, 0))) {
            long start = System.nanoTime();
            assertClosedBy(claim);
            assertTrue(System.nanoTime() - start < 5e9, "the worker waited for an unauthenticated peer's data");
        }
        assertTrue(Faults.rssKb(pid) < rss + 50_000, "an unauthenticated peer made the worker allocate");
        Faults.assertAliveAndWorking(lens);
    }

    private static ByteBuffer prefix(int headerLength, long payloadLength) {
        return ByteBuffer.allocate(12).putInt(headerLength).putLong(payloadLength).flip();
    }

    private static ByteBuffer frame(String json, long payloadLength) {
        byte[] raw = json.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(12 + raw.length).putInt(raw.length).putLong(payloadLength).put(raw).flip();
    }

    /** Send the frames on a fresh connection; the worker must close it without answering anything. */
    private static void assertClosedBy(ByteBuffer... frames) throws IOException {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(worker.socketDir().resolve("worker.sock")));
            try {
                for (ByteBuffer f : frames) {
                    while (f.hasRemaining()) {
                        ch.write(f);
                    }
                }
            } catch (IOException closedWhileWriting) {
                return; // closed before we finished: also a refusal
            }
            ByteBuffer in = ByteBuffer.allocate(1);
            int n;
            try {
                n = ch.read(in); // blocks until the worker closes (it must, within its auth timeout at worst)
            } catch (IOException reset) {
                return;
            }
            assertEquals(-1, n, "the worker answered an unauthenticated peer");
        }
    }
}
