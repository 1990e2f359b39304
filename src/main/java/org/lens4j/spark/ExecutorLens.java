package org.lens4j.spark;

import java.util.HashMap;
import java.util.Map;
import org.apache.spark.TaskContext;
import org.apache.spark.resource.ResourceInformation;
import org.lens4j.Lens;
import org.lens4j.LoadOptions;
import org.lens4j.Model;
import org.lens4j.internal.LensAccess;

/**
 * The one lens4j worker of this executor JVM, started by the first task that needs it and
 * reused by every later task (starting a worker and loading a model cost seconds; a task may
 * take less). Tasks running side by side share it; the Lens serializes their calls. It is
 * closed when the JVM exits.
 */
final class ExecutorLens {
    private static Lens lens;
    private static final Map<String, Model> MODELS = new HashMap<>();

    private ExecutorLens() {
    }

    /** The model, loaded once per executor on the device this task was given. */
    static synchronized Model model(String name, LoadOptions load) {
        LoadOptions onDevice = load.withDevice(device(TaskContext.get(), load.device()));
        String key = name + " " + onDevice;
        Lens current = lens();
        Model model = MODELS.get(key);
        // A model of a worker that died belongs to the stopped Lens; the restarted one loads it again.
        if (model == null || model.isClosed() || model.lens() != current) {
            model = current.load(name, onDevice);
            MODELS.put(key, model);
        }
        return model;
    }

    /**
     * A GPU that Spark's resource profile gave this task ("cuda:N" for its first address),
     * else the device the job asked for, else the CPU.
     */
    static String device(TaskContext task, String requested) {
        if (task != null) {
            ResourceInformation gpu = task.resources().getOrElse("gpu", () -> null);
            if (gpu != null && gpu.addresses().length > 0) {
                return "cuda:" + gpu.addresses()[0];
            }
        }
        return requested == null ? "cpu" : requested;
    }

    private static Lens lens() {
        if (lens == null || !lens.isAlive()) {
            String where = "executor " + executorId() + " (JVM pid " + ProcessHandle.current().pid() + ")";
            boolean restart = lens != null;
            if (restart) {
                try {
                    lens.close(); // its worker died (killed, out of memory): the task that saw it failed and is being retried
                } catch (RuntimeException ignored) {
                    // closing what is already dead can only fail in ways that do not matter here
                }
            }
            // Progress of a first venv build and the worker's stderr go to this executor's log (stderr).
            System.err.println("lens4j: " + where + (restart ? " restarts its lens4j worker, the last one having stopped" : " starts its lens4j worker"));
            try {
                lens = Lens.start();
            } catch (RuntimeException e) {
                lens = null;
                throw new IllegalStateException("lens4j could not start its worker on " + where + ": " + e.getMessage(), e);
            }
            Lens started = lens;
            System.err.println("lens4j: " + where + " runs " + LensAccess.engine(started).describe());
            Runtime.getRuntime().addShutdownHook(new Thread(started::close, "lens4j-executor-close"));
        }
        return lens;
    }

    private static String executorId() {
        org.apache.spark.SparkEnv env = org.apache.spark.SparkEnv.get();
        return env == null ? "?" : env.executorId();
    }
}
