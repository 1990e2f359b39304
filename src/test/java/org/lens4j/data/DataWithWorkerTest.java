package org.lens4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lens4j.Blob;
import org.lens4j.DType;
import org.lens4j.InvalidInputException;
import org.lens4j.Lens;
import org.lens4j.Model;
import org.lens4j.Names;
import org.lens4j.Run;
import org.lens4j.Tensor;
import org.lens4j.TestLens;
import org.lens4j.analysis.AnalysisJson;
import org.lens4j.analysis.Metrics;
import org.lens4j.analysis.Patching;

/**
 * The data tools on real tensors and results of the project's tiny model: a cache subset as
 * .npz read by numpy.load, tensors through .npy and back into the worker, and a real patching
 * sweep as CSV parsed back by Java and by Python's csv module.
 */
class DataWithWorkerTest {
    static final String CORRUPTED = "When John and Mary went to the shops, Mary gave the bag to";

    @TempDir
    Path dir;

    @Test
    void cacheSubsetAsNpzReadsInNumpyWithHookNamesAndEqualValues() throws Exception {
        Model model = TestLens.tiny();
        Path java = Files.createDirectories(dir.resolve("java"));
        try (Run run = model.runWithCache(List.of(TestLens.PROMPT, CORRUPTED), Names.only("resid_pre", "pattern", "embed"))) {
            List<String> chosen = Names.only("resid_pre", "pattern").select(run.cache().keys());
            assertEquals(List.of("blocks.0.hook_resid_pre", "blocks.0.attn.hook_pattern", "blocks.1.hook_resid_pre", "blocks.1.attn.hook_pattern"),
                    chosen);
            Npz.writeCache(java.resolve("subset.npz"), run.cache(), Names.only("resid_pre", "pattern"));
            Npz.writeCache(java.resolve("listed.npz"), run.cache(), List.of("hook_embed", "blocks.1.attn.hook_pattern"), true);
            Map<String, String> want = new LinkedHashMap<>();
            for (String n : run.cache().keys()) {
                try (Tensor t = run.cache().get(n)) {
                    want.put(n, Numpy.hex(t.toBlob()));
                }
            }
            JsonNode report = Numpy.run(java, dir.resolve("py"));
            JsonNode subset = report.get("npz").get("subset.npz");
            assertEquals(chosen, NpyTest.fieldNames(subset), "numpy.load's keys are the hook names");
            for (String n : chosen) {
                assertEquals(want.get(n), subset.get(n).get("hex").asText(), n + " equals the cache tensor, bit for bit");
                assertEquals("<f4", subset.get(n).get("dtype").asText());
            }
            assertEquals(List.of(2, 4, 15, 15), AnalysisJson.MAPPER.convertValue(subset.get("blocks.0.attn.hook_pattern").get("shape"),
                    new TypeReference<List<Integer>>() { }));
            JsonNode listed = report.get("npz").get("listed.npz");
            assertEquals(List.of("hook_embed", "blocks.1.attn.hook_pattern"), NpyTest.fieldNames(listed));
            assertEquals(want.get("hook_embed"), listed.get("hook_embed").get("hex").asText());

            Map<String, Blob> back = Npz.read(java.resolve("subset.npz"));
            assertEquals(chosen, new ArrayList<>(back.keySet()));
            assertEquals(want.get("blocks.1.hook_resid_pre"), Numpy.hex(back.get("blocks.1.hook_resid_pre")));

            InvalidInputException unknown = assertThrows(InvalidInputException.class,
                    () -> Npz.writeCache(java.resolve("x.npz"), run.cache(), Names.of("blocks.0.hook_resid_post")));
            assertTrue(unknown.getMessage().contains("blocks.0.hook_resid_post"), unknown.getMessage());
            assertTrue(assertThrows(IllegalArgumentException.class,
                    () -> Npz.writeCache(java.resolve("x.npz"), run.cache(), List.of("hook_nope"), false)).getMessage().contains("no entry 'hook_nope'"));
        }
    }

    @Test
    void tensorsOfEveryDtypeGoThroughNpyAndBackIntoTheWorker() {
        Lens lens = TestLens.lens();
        try (Tensor base = lens.tensor(new float[] {1.5f, -2f, 0.1f, 65504f, 1e-3f, -0f}, 2, 3)) {
            for (DType d : DType.values()) {
                try (Tensor t = base.to(d)) {
                    Path file = dir.resolve(d.wireName() + ".npy");
                    Npy.write(file, t);
                    Blob original = t.toBlob().copy();
                    try (Tensor again = Npy.readTensor(lens, file)) {
                        assertArrayEquals(new long[] {2, 3}, again.shape());
                        if (d == DType.BFLOAT16) {
                            assertEquals(DType.FLOAT32, again.dtype(), "bfloat16 is stored as float32");
                            assertArrayEquals(t.toFloatArray(), again.toFloatArray());
                        } else {
                            assertEquals(d, again.dtype());
                            assertEquals(Numpy.hex(original), Numpy.hex(again.toBlob()), d + " survives .npy exactly");
                        }
                    }
                }
            }
        }
        try (Tensor scalar = lens.tensor(Npy.fromBytes(Npy.toBytes(new Blob("float64", new long[] {}, java.nio.ByteBuffer.allocate(8)))))) {
            assertEquals(0, scalar.dim(), "a 0-d array stays 0-d in the worker");
        }
    }

    @Test
    void patchingSweepsAsCsvParseBackToTheirValues() throws Exception {
        Model model = TestLens.tiny();
        var metric = Metrics.logitDiff(" Mary", " John");
        Patching.Result resid = Patching.sweep(model, TestLens.PROMPT, CORRUPTED, metric, Patching.Kind.RESID_PRE);
        Patching.Result every = Patching.sweep(model, TestLens.PROMPT, CORRUPTED, metric, Patching.Kind.ATTN_HEAD_BY_POS_EVERY);

        ResultTable table = ResultTable.of(resid);
        assertEquals(resid.values().length, table.size());
        List<String> tokens = resid.tokens().get(0);
        for (ResultRow r : table.rows()) {
            assertEquals(resid.at(r.layer(), r.position()), r.value());
            assertNull(r.head());
            assertEquals(tokens.get(r.position()), r.label(), "positions are labelled by the clean prompt's token");
        }
        Path csv = dir.resolve("resid_pre.csv");
        table.writeCsv(csv);
        ResultTable back = ResultTable.readCsv(csv);
        assertEquals(table, back, "CSV round trip is exact (Double.toString)");

        ResultTable everyTable = ResultTable.of(every);
        assertEquals(every.values().length, everyTable.size());
        assertEquals(List.of("layer", "pos", "head"), every.axes().subList(1, 4));
        for (ResultRow r : everyTable.rows()) {
            int p = every.patchTypes().indexOf(r.label());
            assertTrue(p >= 0, "labelled by patch type: " + r.label());
            assertEquals(every.at(p, r.layer(), r.position(), r.head()), r.value());
        }
        everyTable.writeCsv(dir.resolve("every.csv"));
        assertEquals(everyTable, ResultTable.parseCsv(Files.readString(dir.resolve("every.csv"))));

        Path jsonl = dir.resolve("resid_pre.jsonl");
        table.writeJsonLines(jsonl);
        assertEquals(table, ResultTable.readJsonLines(jsonl));
        List<ResultRow> rows = AnalysisJson.MAPPER.readValue(AnalysisJson.toJson(table.rows()), new TypeReference<List<ResultRow>>() { });
        assertEquals(table.rows(), rows, "a List<ResultRow> round-trips through Jackson");

        // Python's csv module reads the same fields (tokens with leading spaces survive the quoting)
        JsonNode py = Numpy.run(dir, dir.resolve("py")).get("csv").get("resid_pre.csv");
        assertEquals(List.of("layer", "position", "head", "label", "value"), AnalysisJson.MAPPER.convertValue(py.get(0), new TypeReference<List<String>>() { }));
        assertEquals(table.size() + 1, py.size());
        for (int i = 0; i < table.size(); i++) {
            ResultRow r = table.rows().get(i);
            JsonNode f = py.get(i + 1);
            assertEquals(String.valueOf(r.layer()), f.get(0).asText());
            assertEquals(String.valueOf(r.position()), f.get(1).asText());
            assertEquals("", f.get(2).asText());
            assertEquals(r.label(), f.get(3).asText());
            assertEquals(r.value(), Double.parseDouble(f.get(4).asText()));
        }
    }
}
