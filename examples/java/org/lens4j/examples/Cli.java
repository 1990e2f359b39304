package org.lens4j.examples;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import org.lens4j.EngineOptions;

/**
 * The examples' command-line options: {@code --model NAME} (a bundled toy model, a local
 * Hugging Face folder, or a hub name such as {@code gpt2}) and {@code --out DIR} (default
 * {@code out/<Example>}).
 */
final class Cli {
    /** The models that ship with lens4j and load with no network. */
    static final Set<String> BUNDLED = Set.of("toy-ioi", "toy-induction");

    private Cli() {
    }

    static String option(String[] args, String name, String fallback) {
        for (int i = 0; i < args.length - 1; i++) {
            if (args[i].equals(name)) {
                return args[i + 1];
            }
        }
        return fallback;
    }

    static int option(String[] args, String name, int fallback) {
        String v = option(args, name, null);
        if (v == null) {
            return fallback;
        }
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + " takes a whole number; got '" + v + "'");
        }
    }

    static Path outDir(String[] args, String example) {
        return Path.of(option(args, "--out", Path.of("out", example).toString()));
    }

    /**
     * The engine options for a model: offline (the default) for bundled models and local
     * folders; a hub name such as {@code gpt2} lets the worker download it.
     */
    static EngineOptions engineOptions(String model) {
        EngineOptions options = EngineOptions.defaults();
        boolean local = BUNDLED.contains(model) || Files.isDirectory(Path.of(model));
        return local ? options : options.withOffline(false);
    }

    /** Whether the model is one of lens4j's toy models (their vocabulary lays out random tokens differently). */
    static boolean isToy(String model) {
        return BUNDLED.contains(model) || Path.of(model).getFileName().toString().startsWith("toy-");
    }
}
