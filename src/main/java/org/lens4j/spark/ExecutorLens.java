package org.lens4j.spark;

import java.util.HashMap;
import java.util.Map;
import org.apache.spark.TaskContext;
import org.apache.spark.resource.ResourceInformation;
import org.lens4j.Lens;
import org.lens4j.LoadOptions;
import org.lens4j.Model;

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
        Model model = MODELS.get(key);
        if (model == null || model.isClosed()) {
            model = lens().load(name, onDevice);
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
            lens = Lens.start();
            Lens started = lens;
            Runtime.getRuntime().addShutdownHook(new Thread(started::close, "lens4j-executor-close"));
        }
        return lens;
    }
}
