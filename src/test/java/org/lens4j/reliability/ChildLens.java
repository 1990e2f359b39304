package org.lens4j.reliability;

import java.util.Map;
import org.lens4j.Lens;
import org.lens4j.engine.worker.WorkerEngine;
import org.lens4j.internal.LensAccess;

/**
 * A JVM that {@link CleanupTest} kills with -9: it starts a Lens, prints its worker's pid and
 * socket folder, and waits to be killed. With the argument {@code busy} a thread is inside a
 * 60-second call when the JVM dies, so the worker must notice while its op still runs. It
 * prints {@code STARTING} before {@code Lens.start()} and {@code STARTED ms=...} after it,
 * so that a test can kill it at chosen moments of the start.
 */
public final class ChildLens {
    private ChildLens() {
    }

    public static void main(String[] args) throws Exception {
        // The start-window test kills this JVM at moments measured from this line.
        long t0 = System.nanoTime();
        System.out.println("STARTING jvm=" + ProcessHandle.current().pid());
        System.out.flush();
        Lens lens = Lens.start(Faults.options());
        System.out.println("STARTED ms=" + (System.nanoTime() - t0) / 1_000_000);
        WorkerEngine worker = (WorkerEngine) LensAccess.engine(lens);
        if (args.length > 0 && args[0].equals("busy")) {
            Thread caller = new Thread(() -> LensAccess.ops(lens).call("bridge.sleep", Map.of("seconds", 60)));
            caller.setDaemon(true);
            caller.start();
            Thread.sleep(500);
        }
        System.out.println("CHILD jvm=" + ProcessHandle.current().pid() + " worker=" + worker.pid() + " dir=" + worker.socketDir());
        System.out.flush();
        Thread.sleep(120_000); // killed long before
        lens.close();
    }
}
