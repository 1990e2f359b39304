package org.lens4j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lens4j.analysis.Ablation;
import org.lens4j.analysis.AnalysisJson;
import org.lens4j.analysis.DirectLogitAttribution;
import org.lens4j.analysis.HeadDetector;
import org.lens4j.analysis.LogitLens;
import org.lens4j.analysis.Patching;
import org.lens4j.analysis.PathPatching;

/** Each result type's rows (columns as ResultTable documents them), and CSV quoting and parsing, checked against Python's csv module. */
class ResultTableTest {
    static final double NAN = Double.NaN;

    @TempDir
    Path dir;

    static ResultRow row(Integer layer, Integer position, Integer head, String label, double value) {
        return new ResultRow(layer, position, head, label, value);
    }

    @Test
    void headGridsBecomeOneRowPerHead() {
        PathPatching.Result path = new PathPatching.Result(Map.of("type", "final"), PathPatching.Direction.DENOISE,
                new double[][] {{1, NAN}, {3, 4}}, List.of(List.of("a")), 1, 0, 0.5, "suffix", 0.1);
        assertEquals(List.of(row(0, null, 0, "L0H0", 1), row(0, null, 1, "L0H1", NAN), row(1, null, 0, "L1H0", 3), row(1, null, 1, "L1H1", 4)),
                ResultTable.of(path).rows());
        Ablation.HeadAblation zero = new Ablation.HeadAblation("zero", new double[][] {{0.5, NAN, -1}}, true, new int[] {14}, 1, 0);
        assertEquals(List.of(row(0, null, 0, "zero", 0.5), row(0, null, 1, "zero", NAN), row(0, null, 2, "zero", -1)), ResultTable.of(zero).rows());
        Ablation.Comparison cmp = new Ablation.Comparison(List.of("resample", "mean"), new double[][][] {{{1, 2}}, {{3, 4}}}, new int[] {14}, 1, 0, null);
        assertEquals(List.of(row(0, null, 0, "resample", 1), row(0, null, 1, "resample", 2), row(0, null, 0, "mean", 3), row(0, null, 1, "mean", 4)),
                ResultTable.of(cmp).rows());
        HeadDetector.Scores scores = new HeadDetector.Scores("induction_head", new double[][] {{0.25}, {-1}}, 3);
        assertEquals(List.of(row(0, null, 0, "induction_head", 0.25), row(1, null, 0, "induction_head", -1)), ResultTable.of(scores).rows());
        HeadDetector.RepeatedTokenScores rep = new HeadDetector.RepeatedTokenScores(10, new double[][] {{1}}, new double[][] {{2}}, new double[][] {{3}});
        assertEquals(List.of(row(0, null, 0, "previous_token", 1), row(0, null, 0, "duplicate_token", 2), row(0, null, 0, "induction", 3)),
                ResultTable.of(rep).rows());
    }

    @Test
    void attributionAndLogitLensRowsCarryTheirComponentLabels() {
        DirectLogitAttribution.Attribution dla = new DirectLogitAttribution.Attribution("component",
                List.of("embed", "pos_embed", "0_attn_out", "L1H2", "L0N5", "bias"), new double[] {1, 2, 3, 4, 5, 6},
                new double[][] {{1}, {2}, {3}, {4}, {5}, {6}}, 21, new int[][] {{1, 2}}, 2, 4);
        assertEquals(List.of(row(null, null, null, "embed", 1), row(null, null, null, "pos_embed", 2), row(0, null, null, "0_attn_out", 3),
                row(1, null, 2, "L1H2", 4), row(0, null, null, "L0N5", 5), row(null, null, null, "bias", 6)), ResultTable.of(dla).rows());

        LogitLens.Result lens = new LogitLens.Result("accumulated_resid", List.of("0_pre", "final_post"), new int[] {0, 1}, new int[] {3, 4},
                List.of(List.of("a", "b", "c", "d", "e"), List.of("a", "b", "c", "d", "f")), null, null, null,
                new double[][][] {{{0.1, 0.2}, {0.3, 0.4}}, {{0.5, 0.6}, {0.7, 0.8}}}, null, null, null);
        assertEquals(List.of(row(0, 3, null, "0_pre", 0.3), row(0, 4, null, "0_pre", 0.4), row(null, 3, null, "final_post", 0.7),
                row(null, 4, null, "final_post", 0.8)), lens.table(1).rows());
        IllegalArgumentException two = assertThrows(IllegalArgumentException.class, () -> ResultTable.of(lens));
        assertTrue(two.getMessage().contains("2 prompts") && two.getMessage().contains("table(prompt)"), two.getMessage());
        assertThrows(IllegalArgumentException.class, () -> lens.table(2));
    }

    @Test
    void patchingAxesMapToColumnsWithTokensAndPatchTypes() {
        List<List<String>> tokens = List.of(List.of("<bos>", " Mary", ","));
        Patching.Result resid = new Patching.Result("resid_pre", List.of("layer", "pos"), new int[] {2, 3}, new double[] {0, 1, 2, 3, 4, 5},
                List.of(), tokens, 1, 0, "suffix", 0);
        assertEquals(List.of(row(0, 0, null, "<bos>", 0), row(0, 1, null, " Mary", 1), row(0, 2, null, ",", 2), row(1, 0, null, "<bos>", 3),
                row(1, 1, null, " Mary", 4), row(1, 2, null, ",", 5)), ResultTable.of(resid).rows());
        Patching.Result heads = new Patching.Result("attn_head_pattern_all_pos", List.of("layer", "head_index"), new int[] {1, 2},
                new double[] {7, 8}, List.of(), tokens, 1, 0, "suffix", 0);
        assertEquals(List.of(row(0, null, 0, "L0H0", 7), row(0, null, 1, "L0H1", 8)), ResultTable.of(heads).rows());
        Patching.Result destSrc = new Patching.Result("attn_head_pattern_dest_src_pos", List.of("layer", "head_index", "dest_pos", "src_pos"),
                new int[] {1, 1, 2, 2}, new double[] {1, 2, 3, 4}, List.of(), tokens, 1, 0, "suffix", 0);
        assertEquals(List.of(row(0, 0, 0, "src_pos=0", 1), row(0, 0, 0, "src_pos=1", 2), row(0, 1, 0, "src_pos=0", 3), row(0, 1, 0, "src_pos=1", 4)),
                ResultTable.of(destSrc).rows());
        Patching.Result every = new Patching.Result("block_every", List.of("patch_type", "layer", "pos"), new int[] {2, 1, 2},
                new double[] {1, 2, 3, 4}, List.of("resid_pre", "attn_out"), tokens, 1, 0, "suffix", 0);
        assertEquals(List.of(row(0, 0, null, "resid_pre", 1), row(0, 1, null, "resid_pre", 2), row(0, 0, null, "attn_out", 3),
                row(0, 1, null, "attn_out", 4)), ResultTable.of(every).rows());
    }

    static final ResultTable TRICKY = new ResultTable(List.of(
            row(0, 1, 2, "plain", 0.125), row(null, null, null, null, NAN), row(1, null, null, "", Double.POSITIVE_INFINITY),
            row(2, null, null, " Mary", Double.NEGATIVE_INFINITY), row(3, null, null, "a,b", -0.0), row(4, null, null, "say \"hi\"", 1e-300),
            row(5, null, null, "line\nbreak\r\nthere", Double.MIN_VALUE), row(6, null, null, "ünï €", 123456789.123)));

    @Test
    void csvQuotesAsRfc4180AndRoundTripsExactly() throws Exception {
        String csv = TRICKY.toCsv();
        assertTrue(csv.startsWith("layer,position,head,label,value\r\n0,1,2,plain,0.125\r\n,,,,NaN\r\n1,,,\"\",Infinity\r\n2,,,\" Mary\",-Infinity\r\n"
                + "3,,,\"a,b\",-0.0\r\n4,,,\"say \"\"hi\"\"\",1.0E-300\r\n"), csv);
        assertEquals(TRICKY, ResultTable.parseCsv(csv), "nulls, empty labels, quotes, newlines, NaN and infinities survive");
        assertEquals(TRICKY, ResultTable.parseCsv(csv.replace("\r\n", "\n").replace("line\nbreak\nthere", "line\nbreak\r\nthere")),
                "LF line ends read too");
        Path file = dir.resolve("tricky.csv");
        TRICKY.writeCsv(file);
        assertEquals(TRICKY, ResultTable.readCsv(file));
        Path jsonl = dir.resolve("tricky.jsonl");
        TRICKY.writeJsonLines(jsonl);
        assertEquals(TRICKY.size(), Files.readAllLines(jsonl).size());
        assertEquals(TRICKY, ResultTable.readJsonLines(jsonl));
        assertEquals(TRICKY, AnalysisJson.fromJson(AnalysisJson.toJson(TRICKY), ResultTable.class));

        JsonNode py = Numpy.run(dir, dir.resolve("py")).get("csv").get("tricky.csv");
        List<List<String>> want = new ArrayList<>();
        want.add(ResultTable.COLUMNS);
        for (ResultRow r : TRICKY.rows()) {
            want.add(Arrays.asList(s(r.layer()), s(r.position()), s(r.head()), r.label() == null ? "" : r.label(), Double.toString(r.value())));
        }
        List<List<String>> got = new ArrayList<>();
        py.forEach(rec -> {
            List<String> fields = new ArrayList<>();
            rec.forEach(f -> fields.add(f.asText()));
            got.add(fields);
        });
        assertEquals(want, got, "Python's csv module reads the same fields");
    }

    static String s(Integer n) {
        return n == null ? "" : n.toString();
    }

    @Test
    void badCsvIsAClearError() {
        Map<String, String> cases = Map.of(
                "a,b\r\n", "starts with the header layer,position,head,label,value",
                "", "starts with nothing",
                "layer,position,head,label,value\r\n1,2,3,x\r\n", "record 2 has 4 fields",
                "layer,position,head,label,value\r\n1,2,3,x,big\r\n", "not a number",
                "layer,position,head,label,value\r\n1.5,2,3,x,1\r\n", "not a number",
                "layer,position,head,label,value\r\n1,2,3,x,\r\n", "the value is empty",
                "layer,position,head,label,value\r\n1,2,3,\"x,1\r\n", "never ends",
                "layer,position,head,label,value\r\n1,2,3,x\"y,1\r\n", "quote inside an unquoted field");
        cases.forEach((csv, says) -> {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ResultTable.parseCsv(csv), says);
            assertTrue(e.getMessage().contains(says), "'" + e.getMessage() + "' should say " + says);
        });
        assertThrows(IllegalArgumentException.class, () -> new ResultTable(Arrays.asList(row(0, 0, 0, "a", 1), null)));
    }
}
