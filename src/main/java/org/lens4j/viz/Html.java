package org.lens4j.viz;

import com.fasterxml.jackson.databind.JsonNode;
import java.awt.Desktop;
import java.awt.GraphicsEnvironment;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.WeakHashMap;
import org.lens4j.Lens;
import org.lens4j.internal.LensAccess;

/**
 * A view as one self-contained HTML page: its scripts and styles are inside it and it loads
 * nothing from the network. Made by {@link Views} (circuitsvis) and {@link Figures} (plotly).
 *
 * <pre>{@code
 * Html page = Figures.imshow(lens, new double[][] {{1, -1}, {0.5, 0}}, HeatmapOptions.titled("Patching"));
 * page.save(Path.of("patching.html"));   // open it in any browser, offline
 * page.show();                           // the desktop browser; on a server, prints the saved path
 * String html = page.toString();         // the page itself, e.g. to serve it
 * }</pre>
 *
 * <p>A plotly figure made with {@code withSharedPlotlyJs(true)} refers to one
 * {@code plotly.min.js} beside it ({@link #assets()}) instead of inlining the 4.8 MB script;
 * {@link #save(Path)} writes that file into the page's folder when it is not there yet.
 */
public final class Html {
    /** The name of the shared plotly script that {@code withSharedPlotlyJs(true)} pages load from their folder. */
    public static final String PLOTLY_JS = "plotly.min.js";

    // plotly.js (4.8 MB) fetched once per Lens; weak, so that a closed Lens is not kept.
    private static final Map<Lens, byte[]> PLOTLY_SOURCES = Collections.synchronizedMap(new WeakHashMap<>());

    private final Lens lens;
    private final String html;
    private final String title;
    private final String kind;
    private final List<String> assets;

    private Html(Lens lens, String html, String title, String kind, List<String> assets) {
        this.lens = lens;
        this.html = html;
        this.title = title;
        this.kind = kind;
        this.assets = List.copyOf(assets);
    }

    /** The page a {@code viz.*} op returned: {@code {"html", "title", "kind", "assets"}}. */
    static Html fromView(Lens lens, JsonNode view) {
        Objects.requireNonNull(lens, "lens");
        if (view == null || !view.path("html").isTextual()) {
            throw new IllegalArgumentException("not a view (an object with an \"html\" string): " + abbreviate(view));
        }
        List<String> assets = new ArrayList<>();
        view.path("assets").forEach(a -> assets.add(a.asText()));
        for (String asset : assets) {
            if (!asset.equals(PLOTLY_JS)) {
                throw new IllegalArgumentException("the view needs an asset that lens4j cannot write: " + asset
                        + " (known: " + PLOTLY_JS + ")");
            }
        }
        return new Html(lens, view.get("html").asText(), view.path("title").asText(""), view.path("kind").asText(""), assets);
    }

    private static String abbreviate(JsonNode node) {
        String s = String.valueOf(node);
        return s.length() > 200 ? s.substring(0, 200) + "..." : s;
    }

    /** The complete page, {@code <!DOCTYPE html>} to {@code </html>}. */
    public String html() {
        return html;
    }

    /** The page's title (a view's default such as "Attention heads" when none was given). */
    public String title() {
        return title;
    }

    /** What made it: the op's short name, such as {@code attention_heads} or {@code imshow}. */
    public String kind() {
        return kind;
    }

    /** Files that must sit beside the saved page: empty, or {@code [plotly.min.js]} for a shared-script figure. */
    public List<String> assets() {
        return assets;
    }

    /**
     * Write the page (UTF-8) to {@code file}, creating its folder, and any {@linkplain #assets() asset}
     * beside it that is missing or differs. Returns {@code file}.
     *
     * @throws UncheckedIOException when the file cannot be written
     */
    public Path save(Path file) {
        Objects.requireNonNull(file, "file");
        if (Files.isDirectory(file)) {
            throw new IllegalArgumentException(file + " is a folder; give the page's file name, e.g. "
                    + file.resolve(kind.isEmpty() ? "view.html" : kind + ".html"));
        }
        try {
            Path folder = file.toAbsolutePath().getParent();
            Files.createDirectories(folder);
            for (String asset : assets) {
                writeIfDifferent(folder.resolve(asset), plotlyJs(lens));
            }
            write(file, html.getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("could not save the view to " + file, e);
        }
        return file;
    }

    /** An asset shared by the pages of a folder: written only when missing or different. */
    private static void writeIfDifferent(Path target, byte[] content) throws IOException {
        if (Files.isRegularFile(target) && Files.size(target) == content.length && Arrays.equals(Files.readAllBytes(target), content)) {
            return;
        }
        write(target, content);
    }

    /** Write through a temporary file, so that a browser never reads half a file. */
    private static void write(Path target, byte[] content) throws IOException {
        // Not Files.createTempFile: its 0600 mode would stay on the page after the move.
        Path tmp = target.toAbsolutePath().resolveSibling("." + target.getFileName() + "." + System.nanoTime() + ".tmp");
        try {
            Files.write(tmp, content);
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static byte[] plotlyJs(Lens lens) {
        byte[] js = PLOTLY_SOURCES.get(lens);
        if (js == null) {
            js = LensAccess.ops(lens).call("viz.plotly_js", Map.of()).value().path("js").asText().getBytes(StandardCharsets.UTF_8);
            PLOTLY_SOURCES.put(lens, js);
        }
        return js;
    }

    /**
     * Show the page: saved to a new temporary folder, then opened in the desktop browser when
     * there is one; where there is none (a server, a headless JVM) the saved path is printed.
     * Returns the saved file.
     */
    public Path show() {
        Path file;
        try {
            file = Files.createTempDirectory("lens4j-view-").resolve((kind.isEmpty() ? "view" : kind) + ".html");
        } catch (IOException e) {
            throw new UncheckedIOException("could not make a temporary folder for the view", e);
        }
        save(file);
        if (!GraphicsEnvironment.isHeadless() && Desktop.isDesktopSupported()
                && Desktop.getDesktop().isSupported(Desktop.Action.BROWSE)) {
            try {
                Desktop.getDesktop().browse(file.toUri());
                return file;
            } catch (IOException | UnsupportedOperationException | SecurityException e) {
                System.out.println("lens4j: could not open a browser (" + e.getMessage() + ")");
            }
        }
        System.out.println("lens4j: view \"" + title + "\" saved to " + file.toAbsolutePath() + " (open it in a browser)");
        return file;
    }

    /** The page itself, as {@link #html()}. */
    @Override
    public String toString() {
        return html;
    }
}
