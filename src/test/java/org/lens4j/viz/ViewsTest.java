package org.lens4j.viz;

import org.lens4j.internal.LensAccess;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.lens4j.viz.VizTestSupport.HOSTILE;
import static org.lens4j.viz.VizTestSupport.TOKENS;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lens4j.InvalidInputException;
import org.lens4j.Lens;
import org.lens4j.Model;
import org.lens4j.Run;
import org.lens4j.Tensor;
import org.lens4j.engine.Json;

/**
 * Views and figures without a browser: the data that reaches the page is the data given
 * (row-major, not transposed), bad arguments fail at the Java edge with a message naming
 * the mismatch (or come back from Python as InvalidInputException), and {@link Html}
 * saves, shows and prints as documented.
 */
class ViewsTest {
    private static final int N = TOKENS.size();

    @TempDir
    Path tmp;

    private static Lens lens() {
        return VizTestSupport.lens();
    }

    // -- what reaches the page ----------------------------------------------------------------

    /** (data, layout) of the figure a plotly page draws: {@code Plotly.newPlot("id", data, layout, config)}. */
    private static JsonNode[] figure(String page) throws IOException {
        int at = page.indexOf(',', page.indexOf("Plotly.newPlot(")) + 1;
        JsonNode[] out = new JsonNode[2];
        for (int i = 0; i < 2; i++) {
            try (JsonParser p = Json.MAPPER.createParser(page.substring(at))) {
                out[i] = p.readValueAsTree();
                at = page.indexOf(',', at + (int) p.currentLocation().getCharOffset()) + 1;
            }
        }
        return out;
    }

    /** A plotly data array: a list, or plotly's typed array {"dtype": "f4", "bdata", "shape"}. */
    private static float[] floats(JsonNode array) {
        if (array.isArray()) {
            float[] out = new float[array.size()];
            for (int i = 0; i < out.length; i++) {
                out[i] = (float) array.get(i).asDouble();
            }
            return out;
        }
        assertEquals("f4", array.path("dtype").asText(), "plotly typed array: " + array);
        ByteBuffer b = ByteBuffer.wrap(Base64.getDecoder().decode(array.path("bdata").asText())).order(ByteOrder.LITTLE_ENDIAN);
        float[] out = new float[b.remaining() / 4];
        b.asFloatBuffer().get(out);
        return out;
    }

    private static final Pattern RENDER = Pattern.compile(
            "CircuitsVis\\.render\\(\\n\\s*\"circuits-vis-[^\"]+\",\\n\\s*CircuitsVis\\.(\\w+),\\n\\s*(\\{.*\\})\\n\\s*\\)\\n\\s*</script>");

    /** The props a circuitsvis page renders with. */
    private static JsonNode props(Html page, String component) throws IOException {
        Matcher m = RENDER.matcher(page.html());
        assertTrue(m.find(), "no CircuitsVis.render call in the page");
        assertEquals(component, m.group(1));
        return Json.MAPPER.readTree(m.group(2));
    }

    private static float[] flat(JsonNode nested) {
        List<Float> values = new ArrayList<>();
        collect(nested, values);
        float[] out = new float[values.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = values.get(i);
        }
        return out;
    }

    private static void collect(JsonNode node, List<Float> out) {
        if (node.isArray()) {
            node.forEach(n -> collect(n, out));
        } else {
            out.add((float) node.asDouble());
        }
    }

    @Test
    void imshowDrawsTheGivenMatrixRowByRowWithRdBuAroundZero() throws IOException {
        double[][] z = {{1, 2, 3}, {-4, 5.5, -6}};
        Html page = Figures.imshow(lens(), z, HeatmapOptions.titled("Heat").withX(List.of("a", "b", "a")).withY(List.of(0, 1))
                .withXaxis("Position").withYaxis("Layer"));
        assertEquals("imshow", page.kind());
        assertEquals("Heat", page.title());
        assertEquals(List.of(), page.assets());
        JsonNode[] fig = figure(page.html());
        JsonNode trace = fig[0].get(0);
        assertEquals("heatmap", trace.path("type").asText());
        assertEquals("2, 3", trace.path("z").path("shape").asText());
        assertArrayEquals(new float[] {1, 2, 3, -4, 5.5f, -6}, floats(trace.path("z")));
        JsonNode axis = fig[1].path("coloraxis");
        assertEquals(0.0, axis.path("cmid").asDouble(-1), "colour midpoint");
        assertEquals(11, axis.path("colorscale").size(), "RdBu has 11 stops");
        assertEquals("rgb(103,0,31)", axis.path("colorscale").get(0).get(1).asText());
        List<String> ticks = new ArrayList<>();
        fig[1].path("xaxis").path("ticktext").forEach(t -> ticks.add(t.asText()));
        assertEquals(List.of("a", "b", "a"), ticks, "repeated tokens stay separate columns");
        assertEquals("Position", fig[1].path("xaxis").path("title").path("text").asText());
    }

    @Test
    void imshowOfATensorAndWithoutAMidpoint() throws IOException {
        try (Tensor t = lens().tensor(new float[] {1, 2, 3, 4, 5, 6}, 3, 2)) {
            JsonNode[] fig = figure(Figures.imshow(t, HeatmapOptions.defaults().withMidpoint(null).withZmin(0.0).withZmax(6.0)).html());
            assertEquals("3, 2", fig[0].get(0).path("z").path("shape").asText());
            assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, floats(fig[0].get(0).path("z")));
            assertTrue(fig[1].path("coloraxis").path("cmid").isMissingNode(), "no midpoint: " + fig[1].path("coloraxis"));
            assertEquals(6.0, fig[1].path("coloraxis").path("cmax").asDouble());
        }
    }

    @Test
    void lineScatterAndBarCarryTheirData() throws IOException {
        JsonNode[] line = figure(Figures.line(lens(), new double[][] {{1, 2, 3}, {3, 2, 1}},
                SeriesOptions.titled("DLA").withNames(List.of("clean", "corrupt")).withX(List.of("0_pre", "1_pre", "final"))).html());
        assertEquals(2, line[0].size());
        assertEquals("corrupt", line[0].get(1).path("name").asText());
        assertArrayEquals(new float[] {3, 2, 1}, floats(line[0].get(1).path("y")));
        assertTrue(line[1].path("showlegend").asBoolean());

        JsonNode[] scatter = figure(Figures.scatter(lens(), new float[] {1, 2}, new float[] {3, 4},
                ScatterOptions.defaults().withHoverNames(List.of("p", "q"))).html());
        assertArrayEquals(new float[] {1, 2}, floats(scatter[0].get(0).path("x")));
        assertArrayEquals(new float[] {3, 4}, floats(scatter[0].get(0).path("y")));
        assertEquals("p", scatter[0].get(0).path("hovertext").get(0).asText());

        try (Tensor v = lens().tensor(new double[] {5, -1}, 2)) {
            JsonNode[] bar = figure(Figures.bar(v, SeriesOptions.defaults().withBarmode(SeriesOptions.Barmode.STACK)).html());
            assertEquals("bar", bar[0].get(0).path("type").asText());
            assertArrayEquals(new float[] {5, -1}, floats(bar[0].get(0).path("y")));
            assertEquals("stack", bar[1].path("barmode").asText());
        }
    }

    @Test
    void attentionViewsCarryTheGivenPatternAndEscapeTokens() throws IOException {
        float[][][] att = new float[2][N][N];
        for (int h = 0; h < 2; h++) {
            for (int d = 0; d < N; d++) {
                for (int s = 0; s < N; s++) {
                    att[h][d][s] = h * 100 + d * 10 + s;
                }
            }
        }
        Html heads = Views.attentionHeads(lens(), att, TOKENS, AttentionOptions.defaults().withHeadNames(List.of("A", "B")).withMaxValue(2.0));
        JsonNode props = props(heads, "AttentionHeads");
        float[] expected = new float[2 * N * N];
        for (int i = 0; i < expected.length; i++) {
            expected[i] = att[i / (N * N)][i / N % N][i % N];
        }
        assertArrayEquals(expected, flat(props.path("attention")));
        assertEquals(List.of("A", "B"), Json.MAPPER.convertValue(props.path("attentionHeadNames"), List.class));
        assertEquals(2.0, props.path("maxValue").asDouble());
        assertEquals(TOKENS, Json.MAPPER.convertValue(props.path("tokens"), List.class));
        assertFalse(heads.html().contains(HOSTILE), "a token's </script> reached the page verbatim");
        assertEquals("Attention heads", heads.title());

        Html patterns = Views.attentionPatterns(lens(), att, TOKENS, "Chosen heads");
        assertEquals("Chosen heads", patterns.title());
        assertEquals("attention_patterns", patterns.kind());
        assertTrue(patterns.html().contains("<h2>Chosen heads</h2>"));
    }

    @Test
    void viewsOfTheModelsOwnTensors() throws IOException {
        Model model = VizTestSupport.tiny();
        String prompt = "When John and Mary went";
        List<String> tokens = model.toStrTokens(prompt);
        try (Run run = model.runWithCache(prompt); Tensor pattern = run.cache().get("pattern", 1)) {
            assertEquals(4, pattern.dim());
            Html heads = Views.attentionHeads(pattern, tokens);
            assertEquals(4 * tokens.size() * tokens.size(), flat(props(heads, "AttentionHeads").path("attention")).length);
            try (Tensor one = pattern.select(0, 0).select(0, 2)) {
                assertEquals("attention_pattern", Views.attentionPattern(one, tokens).kind());
            }
        }
        Html lp = Views.tokenLogProbs(model, prompt, 3);
        assertEquals("token_log_probs", lp.kind());
        assertEquals(3, props(lp, "TokenLogProbs").path("topKLogProbs").get(0).size());
    }

    // -- checked arguments ---------------------------------------------------------------------

    private static void assertMessage(Class<? extends Throwable> type, String part, org.junit.jupiter.api.function.Executable call) {
        Throwable e = assertThrows(type, call);
        assertTrue(e.getMessage().contains(part), "message should contain '" + part + "': " + e.getMessage());
    }

    @Test
    void badArgumentsFailAtTheJavaEdgeSayingWhatIsExpected() {
        Lens lens = lens();
        float[][][] att = new float[2][3][3];
        List<String> three = List.of("a", "b", "c");
        assertMessage(IllegalArgumentException.class, "tokens is null", () -> Views.attentionHeads(lens, att, null));
        assertMessage(IllegalArgumentException.class, "tokens is empty", () -> Views.attentionPatterns(lens, att, List.of()));
        assertMessage(IllegalArgumentException.class, "tokens[1] is null", () -> Views.attentionHeads(lens, att, Arrays.asList("a", null, "c")));
        assertMessage(IllegalArgumentException.class, "must both equal the number of tokens (4)",
                () -> Views.attentionHeads(lens, att, List.of("a", "b", "c", "d")));
        assertMessage(IllegalArgumentException.class, "ragged array: attention[1][2]",
                () -> Views.attentionHeads(lens, new float[][][] {new float[3][3], {new float[3], new float[3], new float[2]}}, three));
        assertMessage(IllegalArgumentException.class, "headNames has 1 entries but attention's head dim has 2",
                () -> Views.attentionHeads(lens, att, three, AttentionOptions.defaults().withHeadNames(List.of("x"))));
        assertMessage(IllegalArgumentException.class, "headNames applies to attentionHeads only",
                () -> Views.attentionPattern(lens, att[0], three, AttentionOptions.defaults().withHeadNames(List.of("x"))));
        assertMessage(IllegalArgumentException.class, "values has shape [2]",
                () -> Views.coloredTokens(lens, new double[] {1, 2}, three));
        assertMessage(IllegalArgumentException.class, "x has 2 labels but values' columns has 3",
                () -> Figures.imshow(lens, new double[2][3], HeatmapOptions.defaults().withX(List.of("a", "b"))));
        assertMessage(IllegalArgumentException.class, "values is empty", () -> Figures.imshow(lens, new double[0][0]));
        assertMessage(IllegalArgumentException.class, "x and y must have the same length, got 2 and 3",
                () -> Figures.scatter(lens, new double[2], new double[3], null));
        assertMessage(IllegalArgumentException.class, "not a mix",
                () -> Figures.scatter(lens, new double[2], new double[2], ScatterOptions.defaults().withColor(List.of("a", 1))));
        assertMessage(IllegalArgumentException.class, "width must be a positive number of pixels",
                () -> SeriesOptions.defaults().withSize(0, 100));
        assertMessage(IllegalArgumentException.class, "topK must be in [1, 3]",
                () -> Views.tokenLogProbs(lens, new long[] {0, 1}, new float[2][3], three, 4, null));
        assertMessage(IllegalArgumentException.class, "tokens[1] = 7 is not a token id in [0, 3)",
                () -> Views.tokenLogProbs(lens, new long[] {0, 7}, new float[2][3], three, 2, null));
        assertMessage(IllegalArgumentException.class, "vocab has 2 strings but logProbs' last dim (d_vocab) is 3",
                () -> Views.tokenLogProbs(lens, new long[] {0, 1}, new float[2][3], List.of("a", "b"), 2, null));
        assertMessage(IllegalArgumentException.class, "activations has 1 samples but tokens has 2",
                () -> Views.topkTokens(lens, List.<float[][][]>of(new float[1][3][2]), List.of(three, three), null));
        try (Tensor batch = lens.tensor(new float[2 * 2 * 9], 2, 2, 3, 3)) {
            assertMessage(IllegalArgumentException.class, "average over it", () -> Views.attentionHeads(batch, three));
        }
    }

    @Test
    void whatOnlyPythonCanCheckComesBackAsInvalidInput() {
        Lens lens = lens();
        try (Tensor ids = lens.tensor(new long[] {0, 9}, 2); Tensor lp = lens.tensor(new float[6], 2, 3)) {
            assertMessage(InvalidInputException.class, "token ids must be in [0, 3)",
                    () -> Views.tokenLogProbs(ids, lp, List.of("a", "b", "c"), 2, null));
        }
        try (Tensor floatIds = lens.tensor(new float[] {0, 1}, 2); Tensor lp = lens.tensor(new float[6], 2, 3)) {
            assertMessage(InvalidInputException.class, "must be integer token ids",
                    () -> Views.tokenLogProbs(floatIds, lp, List.of("a", "b", "c"), 2, null));
        }
        assertTrue(lens.isAlive(), "a bad view call must not kill the worker");
    }

    // -- Html ------------------------------------------------------------------------------------

    @Test
    void htmlSavesPrintsAndShows() throws IOException {
        Html page = Views.coloredTokens(lens(), new float[] {1, -1}, List.of("a", "b"), ColorOptions.titled("T"));
        assertSame(page.html(), page.toString());
        assertTrue(page.html().startsWith("<!DOCTYPE html>") && page.html().contains("<title>T</title>"));
        Path file = page.save(tmp.resolve("sub/dir/tokens.html"));
        assertEquals(page.html(), Files.readString(file, StandardCharsets.UTF_8));
        assertFalse(Files.exists(file.resolveSibling(Html.PLOTLY_JS)), "an inline page needs no asset");
        assertMessage(IllegalArgumentException.class, "is a folder", () -> page.save(tmp));

        // Headless here: show() saves to a temporary file and prints where.
        System.setProperty("java.awt.headless", "true");
        PrintStream out = System.out;
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        Path shown;
        System.setOut(new PrintStream(printed, true, StandardCharsets.UTF_8));
        try {
            shown = page.show();
        } finally {
            System.setOut(out);
        }
        assertEquals(page.html(), Files.readString(shown));
        assertTrue(printed.toString(StandardCharsets.UTF_8).contains(shown.toAbsolutePath().toString()), printed.toString());
    }

    @Test
    void sharedPlotlyJsIsWrittenOnceBesideThePages() throws IOException {
        Lens lens = lens();
        Html a = Figures.imshow(lens, new double[][] {{1, 2}}, HeatmapOptions.defaults().withSharedPlotlyJs(true));
        Html b = Figures.line(lens, new double[] {1, 2, 3}, SeriesOptions.defaults().withSharedPlotlyJs(true));
        assertEquals(List.of(Html.PLOTLY_JS), a.assets());
        assertTrue(a.html().length() < 100_000 && a.html().contains("src=\"plotly.min.js\""), "the page refers to the shared script");
        a.save(tmp.resolve("a.html"));
        Path js = tmp.resolve(Html.PLOTLY_JS);
        String source = LensAccess.ops(lens).call("viz.plotly_js", java.util.Map.of()).value().path("js").asText();
        assertEquals(source, Files.readString(js));
        FileTime old = FileTime.fromMillis(1_000_000_000_000L);
        Files.setLastModifiedTime(js, old);
        b.save(tmp.resolve("b.html"));
        assertEquals(old, Files.getLastModifiedTime(js), "plotly.min.js was written again");
        Files.writeString(js, "stale");
        b.save(tmp.resolve("b.html"));
        assertEquals(source, Files.readString(js), "a different plotly.min.js is replaced");
    }

    @Test
    void fromViewWrapsAnOpsResult() {
        Html page = Html.fromView(lens(), LensAccess.ops(lens()).call("viz.bar", java.util.Map.of("values", List.of(1.0, -2.0))).value());
        assertEquals("bar", page.kind());
        assertEquals("Bar chart", page.title());
        assertMessage(IllegalArgumentException.class, "not a view", () -> Html.fromView(lens(), Json.MAPPER.createObjectNode()));
    }
}
