package org.lens4j.examples;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.lens4j.analysis.AnalysisJson;
import org.lens4j.viz.Html;

/** An example's output folder: its views (HTML pages) and numbers (JSON), and the list of what it wrote. */
final class Output {
    private final Path dir;
    private final List<Path> files = new ArrayList<>();

    Output(Path dir) {
        this.dir = dir.toAbsolutePath().normalize();
        try {
            Files.createDirectories(this.dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the output folder " + this.dir, e);
        }
    }

    Path dir() {
        return dir;
    }

    /** Save a view as {@code name.html}. */
    Path view(String name, Html page) {
        return add(page.save(dir.resolve(name + ".html")));
    }

    /** Write a result record (or any Jackson-writable value) as {@code name.json}. */
    Path json(String name, Object value) {
        Path file = dir.resolve(name + ".json");
        AnalysisJson.write(value, file);
        return add(file);
    }

    private Path add(Path file) {
        files.add(file);
        return file;
    }

    /** The files written so far, in order. */
    List<Path> files() {
        return List.copyOf(files);
    }

    /** The file names, for the closing printout. */
    List<String> names() {
        return files.stream().map(f -> dir.relativize(f).toString()).toList();
    }

    /** The closing lines: where the views and numbers are. */
    void printSummary() {
        Print.step("Files");
        System.out.println("Views (open in any browser, offline) and numbers (JSON) in " + dir + ":");
        StringBuilder line = new StringBuilder("  ");
        for (String name : names()) {
            if (line.length() + name.length() > 100) {
                System.out.println(line.toString().stripTrailing());
                line = new StringBuilder("  ");
            }
            line.append(name).append("  ");
        }
        if (line.length() > 2) {
            System.out.println(line.toString().stripTrailing());
        }
    }
}
