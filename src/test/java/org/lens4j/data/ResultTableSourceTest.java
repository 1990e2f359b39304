package org.lens4j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.lens4j.analysis.AnalysisJson;

/**
 * {@link ResultTable.Source}: any result, lens4j's or the user's, becomes a table through
 * {@link ResultTable#of(ResultTable.Source)}; the building blocks refuse grids that do not fit
 * their labels; and the JSON lines are what {@link AnalysisJson#MAPPER} writes for a row, though
 * the table no longer goes through it.
 */
class ResultTableSourceTest {
    record MyScores(double[][] grid) implements ResultTable.Source {
        @Override
        public ResultTable table() {
            return ResultTable.heads(grid, "my_score");
        }
    }

    @Test
    void aResultOfOnesOwnBecomesATable() {
        ResultTable t = ResultTable.of(new MyScores(new double[][] {{0.5}}));
        assertEquals("layer,position,head,label,value\r\n0,,0,my_score,0.5\r\n", t.toCsv());
        IllegalStateException none = assertThrows(IllegalStateException.class, () -> ResultTable.of(() -> null));
        assertTrue(none.getMessage().contains("table() returned null"), none.getMessage());
        assertThrows(NullPointerException.class, () -> ResultTable.of(null));
    }

    @Test
    void buildingBlocksRefuseGridsThatDoNotFitTheirLabels() {
        Map<String, Executable> cases = Map.of(
                "axes [layer] name 1 dimensions but the shape [2, 3] has 2",
                () -> ResultTable.axes(List.of("layer"), new int[] {2, 3}, new double[6], List.of(), List.of()),
                "a grid of shape [2, 3] has 6 cells, not 5 values",
                () -> ResultTable.axes(List.of("layer", "pos"), new int[] {2, 3}, new double[5], List.of(), List.of()),
                "1 labels [a] for 2 grids",
                () -> ResultTable.heads(List.of("a"), new double[][][] {{{1}}, {{2}}}),
                "2 labels for 1 values",
                () -> ResultTable.components(List.of("L0H0", "embed"), new double[] {1}),
                "1 labels for a grid of 2 rows",
                () -> ResultTable.byPosition(List.of("0_pre"), new int[] {0}, new double[][][] {{{1}}, {{2}}}, 0),
                "prompt 1 is out of range: the grid holds 1 prompt(s)",
                () -> ResultTable.byPosition(List.of("0_pre"), new int[] {0}, new double[][][] {{{1}}}, 1));
        cases.forEach((says, call) -> {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call, says);
            assertTrue(e.getMessage().contains(says), "'" + e.getMessage() + "' should say " + says);
        });
    }

    @Test
    void jsonLinesAreWhatAnalysisJsonWritesForEachRow() throws Exception {
        StringBuilder want = new StringBuilder();
        for (ResultRow r : ResultTableTest.TRICKY.rows()) {
            want.append(AnalysisJson.MAPPER.writeValueAsString(r)).append('\n');
        }
        assertEquals(want.toString(), ResultTableTest.TRICKY.toJsonLines(), "byte for byte, NaN and infinities as strings");
        assertTrue(want.toString().contains("\"value\":\"NaN\""), want.toString());
    }
}
