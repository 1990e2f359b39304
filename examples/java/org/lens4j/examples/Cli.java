package org.lens4j.examples;

import java.nio.file.Path;

/** The examples' few command-line options ({@code --model NAME}, {@code --out DIR}, ...). */
final class Cli {
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

    static Path outDir(String[] args, String example) {
        return Path.of(option(args, "--out", Path.of("out", example).toString()));
    }
}
