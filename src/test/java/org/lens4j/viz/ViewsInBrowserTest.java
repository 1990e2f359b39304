package org.lens4j.viz;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.lens4j.viz.VizTestSupport.HOSTILE;
import static org.lens4j.viz.VizTestSupport.HOSTILE_INNER;
import static org.lens4j.viz.VizTestSupport.TOKENS;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;
import org.lens4j.Lens;
import org.lens4j.Tensor;

/**
 * Every kind of view (the bar chart with the shared plotly.min.js beside it), made from Java, opens in headless Chromium with no network: it renders
 * (plotly's svg, or a circuitsvis root with content), fetches nothing (no request, no http(s)
 * URL in the file or the final DOM), and hostile token text is shown, never run (the page's
 * title is unchanged and no {@code <img>} was made). One heatmap and one attention view are
 * saved as screenshots under target/screenshots/.
 */
class ViewsInBrowserTest {
    private static final int N = TOKENS.size();

    @TempDir
    static Path pages;
    private static ExecutorService browsers;

    /** What one view is: how to make it, whether its tokens are readable DOM text, its screenshot. */
    private record Case(Supplier<Html> make, boolean tokensInText, String screenshot) {
    }

    @BeforeAll
    static void browsers() {
        VizTestSupport.requireChromium();
        // Chromium waits on its virtual clock and on I/O part of the time: three at once keep two cores busy.
        browsers = Executors.newFixedThreadPool(3);
    }

    @AfterAll
    static void stop() {
        if (browsers != null) {
            browsers.shutdownNow();
        }
    }

    private static float[][][] attention(int heads, int n, long seed) {
        Random r = new Random(seed);
        float[][][] a = new float[heads][n][n];
        for (float[][] head : a) {
            for (int d = 0; d < n; d++) {
                float sum = 0;
                for (int s = 0; s <= d; s++) {
                    head[d][s] = r.nextFloat() + 0.05f;
                    sum += head[d][s];
                }
                for (int s = 0; s <= d; s++) {
                    head[d][s] /= sum;
                }
            }
        }
        return a;
    }

    private static double[][] gaussian(int rows, int cols, long seed) {
        Random r = new Random(seed);
        double[][] v = new double[rows][cols];
        for (double[] row : v) {
            for (int c = 0; c < cols; c++) {
                row[c] = r.nextGaussian();
            }
        }
        return v;
    }

    private static float[][][] gaussian3(int a, int b, int c, long seed) {
        Random r = new Random(seed);
        float[][][] v = new float[a][b][c];
        for (float[][] m : v) {
            for (float[] row : m) {
                for (int i = 0; i < c; i++) {
                    row[i] = (float) r.nextGaussian();
                }
            }
        }
        return v;
    }

    private static Map<String, Case> cases(Lens lens) {
        Map<String, Case> cases = new LinkedHashMap<>();
        cases.put("attentionHeads", new Case(() -> Views.attentionHeads(lens, attention(4, N, 0), TOKENS,
                AttentionOptions.titled("Layer 0 heads").withHeadNames(List.of("L0H0", "L0H1", "L0H2", HOSTILE_INNER))),
                false, "java-attention-heads.png"));
        cases.put("attentionPatterns", new Case(() -> Views.attentionPatterns(lens, attention(3, N, 1), TOKENS), true, null));
        cases.put("attentionPattern", new Case(() -> Views.attentionPattern(lens, attention(1, N, 2)[0], TOKENS,
                AttentionOptions.titled(HOSTILE).withShowAxisLabels(true)), false, null));
        cases.put("coloredTokens", new Case(() -> Views.coloredTokens(lens, gaussian(1, N, 3)[0], TOKENS,
                ColorOptions.defaults().withPositiveColor("green")), true, null));
        cases.put("coloredTokensMulti", new Case(() -> {
            double[][] v = gaussian(N, 2, 4);
            float[] flat = new float[N * 2];
            for (int i = 0; i < flat.length; i++) {
                flat[i] = (float) v[i / 2][i % 2];
            }
            try (Tensor values = lens.tensor(flat, N, 2)) {
                return Views.coloredTokensMulti(values, TOKENS, List.of("dla", HOSTILE), null);
            }
        }, true, null));
        cases.put("textNeuronActivations", new Case(() -> Views.textNeuronActivations(lens, gaussian3(N, 2, 3, 5), TOKENS,
                NeuronOptions.titled("Neurons").withFirstDimensionLabels(List.of("L0", "L1"))), true, null));
        cases.put("topkTokens", new Case(() -> Views.topkTokens(lens, gaussian3(2, N, 3, 6), TOKENS,
                TopkOptions.defaults().withMaxK(3)), true, null));
        cases.put("tokenLogProbs", new Case(() -> {
            float[][] lp = new float[N][N];
            double[][] g = gaussian(N, N, 7);
            for (int p = 0; p < N; p++) {
                double max = Arrays.stream(g[p]).max().orElseThrow();
                double log = Math.log(Arrays.stream(g[p]).map(x -> Math.exp(x - max)).sum()) + max;
                for (int v = 0; v < N; v++) {
                    lp[p][v] = (float) (g[p][v] - log);
                }
            }
            return Views.tokenLogProbs(lens, new long[] {0, 1, 2, 3, 4, 5}, lp, TOKENS, 3, null);
        }, true, null));
        cases.put("imshow", new Case(() -> Figures.imshow(lens, gaussian(3, N, 8), HeatmapOptions.titled("Patching " + HOSTILE)
                .withX(TOKENS).withY(List.of("0", "1", HOSTILE)).withXaxis("Position").withYaxis("Layer").withCaxis("logit diff")),
                true, "java-imshow.png"));
        cases.put("line", new Case(() -> Figures.line(lens, gaussian(2, N, 9), SeriesOptions.titled("DLA")
                .withX(TOKENS).withNames(List.of("clean", HOSTILE))), true, null));
        cases.put("scatter", new Case(() -> Figures.scatter(lens, gaussian(1, N, 10)[0], gaussian(1, N, 11)[0],
                ScatterOptions.titled(HOSTILE_INNER).withHoverNames(TOKENS).withColor(List.of("a", "b", "a", "b", "a", "b"))
                        .withXaxis("Ablated").withYaxis("Original")), false, null));
        // With the shared plotly.min.js, which Html.save writes beside the page.
        cases.put("bar", new Case(() -> Figures.bar(lens, gaussian(1, N, 12)[0], SeriesOptions.titled("bars").withX(TOKENS)
                .withSharedPlotlyJs(true)), true, null));
        return cases;
    }

    @TestFactory
    Stream<DynamicTest> everyViewRendersOfflineAndRunsNoTokenText() throws Exception {
        long t0 = System.nanoTime();
        Lens lens = VizTestSupport.lens();
        long t1 = System.nanoTime();
        Map<String, Html> views = new LinkedHashMap<>();
        Map<String, Future<JsonNode>> checks = new LinkedHashMap<>();
        Map<String, Case> cases = cases(lens);
        for (Map.Entry<String, Case> e : cases.entrySet()) {
            Html view = e.getValue().make().get();
            Path page = view.save(pages.resolve(e.getKey() + ".html"));
            Path shot = e.getValue().screenshot() == null ? null : VizTestSupport.SCREENSHOTS.resolve(e.getValue().screenshot());
            views.put(e.getKey(), view);
            checks.put(e.getKey(), browsers.submit(() -> VizTestSupport.check(page, shot)));
        }
        System.out.printf("views: worker ready in %.1f s, %d pages made and saved in %.1f s%n",
                (t1 - t0) / 1e9, views.size(), (System.nanoTime() - t1) / 1e9);
        return cases.entrySet().stream().map(e -> DynamicTest.dynamicTest(e.getKey(), () -> {
            Html view = views.get(e.getKey());
            JsonNode r = checks.get(e.getKey()).get();
            for (String asset : view.assets()) {
                assertTrue(Files.size(pages.resolve(asset)) > 1_000_000, asset + " was not saved beside the page");
            }
            assertOffline(r);
            assertEquals(view.title(), r.path("title").asText(), "the title changed: a hostile handler ran");
            assertFalse(r.path("tags").has("img"), "an element was made from token text: " + r.path("tags"));
            if (view.kind().equals("imshow") || view.kind().equals("line") || view.kind().equals("scatter") || view.kind().equals("bar")) {
                assertTrue(r.path("main_svg").asInt() >= 1 && r.path("tags").path("path").asInt() > 0, "plotly drew nothing: " + r);
            } else {
                JsonNode roots = r.path("roots");
                assertEquals(1, roots.size(), "one circuitsvis root: " + roots);
                assertTrue(roots.elements().next().asInt() >= 3, "the circuitsvis root is (nearly) empty: " + roots);
            }
            if (e.getValue().tokensInText()) {
                String text = normalize(r.path("text").asText());
                for (String token : TOKENS.subList(1, N)) { // token_log_probs does not show BOS
                    assertTrue(text.contains(normalize(token)), "token not shown as text: " + token);
                }
            }
            if (e.getValue().screenshot() != null) {
                byte[] png = Files.readAllBytes(VizTestSupport.SCREENSHOTS.resolve(e.getValue().screenshot()));
                assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}, Arrays.copyOf(png, 8));
                assertEquals(1200, ByteBuffer.wrap(png, 16, 4).getInt());
                assertEquals(900, ByteBuffer.wrap(png, 20, 4).getInt());
                assertTrue(png.length > 10_000, "the screenshot looks blank (" + png.length + " bytes)");
            }
        }));
    }

    private static void assertOffline(JsonNode r) {
        assertEquals(0, r.path("requests").size(), "the page fetched: " + r.path("requests"));
        assertEquals(0, r.path("static_urls").size(), "network URLs in the file: " + r.path("static_urls"));
        assertEquals(0, r.path("dom_urls").size(), "network URLs in the DOM: " + r.path("dom_urls"));
        assertTrue(r.path("ok").asBoolean(), "the harness did not report ok: " + r);
    }

    private static String normalize(String s) {
        return String.join(" ", s.trim().split("\\s+"));
    }
}
