package org.lens4j.engine.embedded;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.Consumer;
import jep.JepConfig;
import jep.JepException;
import jep.MainInterpreter;
import jep.PyConfig;
import jep.SharedInterpreter;
import org.lens4j.EngineException;
import org.lens4j.ErrorKind;

/**
 * The one Java thread of this JVM that runs Python: it owns JEP's {@link SharedInterpreter}, and
 * every embedded engine's calls, releases and closes run on it, one at a time.
 *
 * <p>CPython can be started once per process, and JEP ties an interpreter to the thread that made
 * it; torch tensors freed while another thread holds the GIL crash the process (JEP issue #522). So
 * there is exactly one such thread, started by the first embedded engine and kept for the JVM's
 * life (a daemon); later engines reuse it with the same venv and bridge, each with its own session.
 * Work submitted from this thread itself (a Java hook that calls again) runs inline.
 */
final class PythonThread {
    /** What the thread was started with: later engines must ask for the same. */
    record Setup(Path libjep, Path venvPython, Path sitePackages, Path bridge) {
    }

    private static PythonThread instance;
    private static Throwable startFailure;

    final Setup setup;
    private final Thread thread;
    private final LinkedBlockingQueue<FutureTask<?>> queue = new LinkedBlockingQueue<>();
    private SharedInterpreter interp;

    private PythonThread(Setup setup) {
        this.setup = setup;
        this.thread = new Thread(this::loop, "lens4j-embedded-python");
        this.thread.setDaemon(true);
    }

    /** The thread, started with {@code setup} on first use; a later different setup is an error. */
    static synchronized PythonThread get(Setup setup, Consumer<String> log) {
        if (instance == null) {
            if (startFailure != null) {
                throw new EngineException(ErrorKind.ENGINE_START, "the embedded engine's Python failed to start earlier in this JVM"
                        + " (CPython starts once per process): " + startFailure.getMessage()
                        + ". Use the worker engine (LENS4J_ENGINE=worker).", startFailure);
            }
            PythonThread t = new PythonThread(setup);
            try {
                t.start(log);
            } catch (RuntimeException | Error e) {
                startFailure = e;
                throw e;
            }
            instance = t;
        } else if (!instance.setup.venvPython().equals(setup.venvPython())) {
            throw new EngineException(ErrorKind.ENGINE_START, "this JVM's embedded Python already runs from the venv of "
                    + instance.setup.venvPython() + ", and CPython starts once per process, so an embedded engine with "
                    + setup.venvPython() + " cannot start here. Use the same venv, or the worker engine"
                    + " (LENS4J_ENGINE=worker) for the other one.", null);
        } else if (!instance.setup.bridge().equals(setup.bridge())) {
            // One interpreter imports lens4j_bridge once: a second copy of it (the jar's unpacked
            // bridge beside a source tree's python/, same version) cannot be imported beside it.
            log.accept("lens4j: this JVM's embedded Python imported lens4j_bridge from " + instance.setup.bridge()
                    + "; the engine asked for " + setup.bridge() + " uses that one");
        }
        return instance;
    }

    private void start(Consumer<String> log) {
        try {
            // java.library.path is fixed at JVM start; JEP loads the venv's own libjep by absolute path.
            MainInterpreter.setJepLibraryPath(setup.libjep().toString());
            // The venv's python as program name: CPython reads pyvenv.cfg beside it, so sys.prefix
            // is the venv and site adds its site-packages, as in the worker process.
            MainInterpreter.setInitParams(new PyConfig()
                    .setProgramName(setup.venvPython().toString())
                    .setIgnoreEnvironmentFlag(1)
                    .setNoUserSiteDirectory(1));
            SharedInterpreter.setConfig(new JepConfig().addIncludePaths(setup.bridge().toString()));
        } catch (IllegalStateException | JepException e) {
            throw new EngineException(ErrorKind.ENGINE_START, "JEP was already started in this JVM by other code: " + e.getMessage()
                    + ". Use the worker engine (LENS4J_ENGINE=worker).", e);
        }
        thread.start();
        submit(() -> {
            interp = new SharedInterpreter();
            // Where site did not add the venv (a Python whose getpath ignores pyvenv.cfg), add it here.
            interp.set("_l4j_site", setup.sitePackages().toString());
            interp.exec("import site, sys\nif _l4j_site not in sys.path: site.addsitedir(_l4j_site)\ndel _l4j_site");
            return null;
        }, null);
    }

    private void loop() {
        while (true) {
            FutureTask<?> task;
            try {
                task = queue.take();
            } catch (InterruptedException e) {
                continue; // nobody may stop this thread: the interpreter lives on it
            }
            task.run();
        }
    }

    boolean isCurrent() {
        return Thread.currentThread() == thread;
    }

    SharedInterpreter interpreter() {
        return interp;
    }

    /** Called when the waiting thread is interrupted while the task runs; returns nothing. */
    interface OnInterrupt {
        void interruptRunning();
    }

    /**
     * Run {@code work} on this thread and return its result; inline when called from it.
     * A caller interrupted before the task started withdraws it ({@link InterruptedException}
     * wrapped in an EngineException INTERRUPTED); one interrupted while it runs has
     * {@code onInterrupt} asked to stop it, waits for it to end and keeps its interrupt flag.
     */
    <T> T submit(Callable<T> work, OnInterrupt onInterrupt) {
        if (isCurrent()) {
            try {
                return work.call();
            } catch (RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new EngineException(ErrorKind.ENGINE_DIED, "embedded Python: " + e, e);
            }
        }
        FutureTask<T> task = new FutureTask<>(work);
        queue.add(task);
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return task.get();
                } catch (InterruptedException e) {
                    if (!interrupted) {
                        interrupted = true;
                        if (queue.remove(task)) {
                            throw new EngineException(ErrorKind.INTERRUPTED, "the thread was interrupted while it waited for"
                                    + " another call on the embedded engine; nothing ran and the engine runs on", e);
                        }
                        if (onInterrupt != null) {
                            onInterrupt.interruptRunning();
                        }
                    }
                    // keep waiting: the call must unwind before this thread may leave
                } catch (ExecutionException e) {
                    Throwable cause = e.getCause();
                    if (cause instanceof RuntimeException re) {
                        throw re;
                    }
                    if (cause instanceof Error err) {
                        throw err;
                    }
                    throw new EngineException(ErrorKind.ENGINE_DIED, "embedded Python: " + cause, cause);
                } catch (CancellationException e) {
                    throw new EngineException(ErrorKind.INTERRUPTED, "the call was withdrawn", e);
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Queue work without waiting (handle releases from the Cleaner's thread). */
    void post(Runnable work) {
        if (isCurrent()) {
            work.run();
        } else {
            queue.add(new FutureTask<>(work, null));
        }
    }
}
