package org.lens4j.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.core.json.JsonWriteFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Grid-shaped analysis results as long-format tables: one {@link ResultRow} per cell, written as
 * CSV or JSON lines, or kept as a Jackson-friendly {@code List<ResultRow>} ({@link #rows()}).
 *
 * <p>A result becomes a table by implementing {@link Source}: its {@code table()} lays its grid
 * out with one of the building blocks below, which fix what the columns hold (every cell becomes
 * a row, NaN cells included). {@link #of(Source)} is the one entry point for every result, so a
 * new analysis needs no new method here, and this package knows nothing of the analyses.
 * <table>
 * <caption>columns per building block (and the lens4j results that use it)</caption>
 * <tr><th>block</th><th>layer</th><th>position</th><th>head</th><th>label</th><th>value</th></tr>
 * <tr><td>{@link #axes} (Patching.Result)</td><td>layer axis</td><td>pos (or dest_pos) axis</td><td>head (or head_index) axis</td>
 *     <td>the patch type of a patch_type axis ("resid_pre", "out", "q", ...); else "name=N" for other axes ("src_pos=N" for the
 *     dest x src pattern sweep); else the token at the position (Patching: the clean prompt's, i.e. the first prompt's, such as
 *     " Mary"); else the head, "L1H2"</td><td>the cell (the metric)</td></tr>
 * <tr><td>{@link #heads(double[][])} (PathPatching.Result)</td><td>(sender) layer</td><td>null</td><td>(sender) head</td><td>"L1H2"</td>
 *     <td>the cell (the metric)</td></tr>
 * <tr><td>{@link #heads(double[][], String)} (Ablation.HeadAblation: the method, "zero", ...; HeadDetector.Scores: the pattern,
 *     "induction_head")</td><td>layer</td><td>null</td><td>head</td><td>the given label</td><td>the cell (the score)</td></tr>
 * <tr><td>{@link #heads(List, double[][][])} (Ablation.Comparison: one grid per method; HeadDetector.RepeatedTokenScores:
 *     "previous_token", "duplicate_token", "induction")</td><td>layer</td><td>null</td><td>head</td><td>the grid's label</td>
 *     <td>the cell (the score)</td></tr>
 * <tr><td>{@link #components} (DirectLogitAttribution.Attribution)</td><td>the component's layer ("L3H1", "L3N7", "3_attn_out";
 *     null for "embed" and the like)</td><td>null</td><td>the component's head ("L3H1")</td><td>the component</td>
 *     <td>its value (the mean over prompts)</td></tr>
 * <tr><td>{@link #byPosition} (LogitLens.Result, one prompt)</td><td>the row's layer ("3_pre"; null for "final_post")</td>
 *     <td>position</td><td>null</td><td>the row ("3_pre")</td><td>the cell (KL(final || row))</td></tr>
 * </table>
 *
 * <p>The CSV has the header {@code layer,position,head,label,value}, CRLF line ends and RFC 4180
 * quoting; a null is an empty field and an empty label is {@code ""}; labels with leading or
 * trailing spaces (tokens such as " Mary") are quoted too, so tools that trim unquoted fields keep
 * them. Numbers are locale-independent: integers as digits, values as {@link Double#toString}
 * ("0.125", "1.0E-5", "NaN", "Infinity", "-Infinity"), which round-trips every double exactly.
 *
 * <pre>{@code
 * Patching.Result sweep = Patching.sweep(model, clean, corrupted, metric, Patching.Kind.RESID_PRE);
 * ResultTable table = ResultTable.of(sweep);                  // or sweep.table()
 * table.writeCsv(Path.of("resid_pre.csv"));                  // pandas.read_csv("resid_pre.csv")
 * table.writeJsonLines(Path.of("resid_pre.jsonl"));
 * List<ResultRow> rows = table.rows();                        // Jackson writes it as a JSON array
 * ResultTable both = table.plus(ResultTable.of(headAblation));
 * ResultTable back = ResultTable.readCsv(Path.of("resid_pre.csv"));
 * ResultTable mine = ResultTable.heads(new double[][] {{0.1, 0.2}}, "my_score");   // a grid of one's own
 * }</pre>
 *
 * @param rows the rows, in the result's row-major order
 */
public record ResultTable(List<ResultRow> rows) {
    /** The CSV header. */
    public static final List<String> COLUMNS = List.of("layer", "position", "head", "label", "value");
    private static final Pattern HEAD_LABEL = Pattern.compile("L(\\d+)H(\\d+)");
    private static final Pattern COMPONENT_LABEL = Pattern.compile("L(\\d+)[HN]\\d+");
    private static final Pattern LAYER_LABEL = Pattern.compile("(\\d+)_.*");
    /**
     * Rows as JSON: the settings of {@code AnalysisJson.MAPPER} that a row's output depends on
     * (Jackson's defaults, NaN and infinities as strings, unknown properties ignored), kept here
     * because this package sits below the analyses and must not refer to them.
     */
    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .enable(JsonWriteFeature.WRITE_NAN_AS_STRINGS)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .build();

    /**
     * A result that can lay itself out as a table; every grid-shaped lens4j analysis result is
     * one. Implement it on a result of your own with the building blocks of {@link ResultTable}
     * (or any rows), and {@link ResultTable#of(Source)} takes it.
     *
     * <pre>{@code
     * record MyScores(double[][] grid) implements ResultTable.Source {
     *     public ResultTable table() { return ResultTable.heads(grid, "my_score"); }
     * }
     * ResultTable.of(new MyScores(new double[][] {{0.5}})).toCsv();   // "layer,position,head,label,value\r\n0,,0,my_score,0.5\r\n"
     * }</pre>
     */
    public interface Source {
        /** This result as rows; never null. */
        ResultTable table();
    }

    public ResultTable {
        Objects.requireNonNull(rows, "rows");
        if (rows.stream().anyMatch(Objects::isNull)) {
            throw new IllegalArgumentException("a result table cannot hold null rows");
        }
        rows = List.copyOf(rows);
    }

    /** This table's rows followed by {@code other}'s. */
    public ResultTable plus(ResultTable other) {
        Objects.requireNonNull(other, "other");
        List<ResultRow> all = new ArrayList<>(rows);
        all.addAll(other.rows());
        return new ResultTable(all);
    }

    public int size() {
        return rows.size();
    }

    // -- results to rows -----------------------------------------------------------------

    /** The table of any result that lays itself out as one (see the table above for the columns). */
    public static ResultTable of(Source result) {
        Objects.requireNonNull(result, "result");
        ResultTable table = result.table();
        if (table == null) {
            throw new IllegalStateException(result.getClass().getName() + ".table() returned null; a Source returns a table, empty if need be");
        }
        return table;
    }

    /**
     * A grid with named axes, row-major over {@code shape}: the axes "layer", "pos" or "dest_pos",
     * "head" or "head_index" fill their columns; the label is the patch type of a "patch_type" axis,
     * else "name=index" for every other axis, else the position's token, else the head ("L1H2").
     *
     * @param axes the axis names, one per dimension
     * @param shape the grid's size along each axis
     * @param values the cells, row-major
     * @param patchTypes the labels of the "patch_type" axis (empty where there is none)
     * @param tokens a label per position (empty for none; positions beyond it get a null label)
     */
    public static ResultTable axes(List<String> axes, int[] shape, double[] values, List<String> patchTypes, List<String> tokens) {
        Objects.requireNonNull(axes, "axes");
        Objects.requireNonNull(shape, "shape");
        Objects.requireNonNull(values, "values");
        Objects.requireNonNull(patchTypes, "patchTypes");
        Objects.requireNonNull(tokens, "tokens");
        if (axes.size() != shape.length) {
            throw new IllegalArgumentException("axes " + axes + " name " + axes.size() + " dimensions but the shape "
                    + Arrays.toString(shape) + " has " + shape.length);
        }
        long cells = 1;
        for (int n : shape) {
            cells *= n;
        }
        if (cells != values.length) {
            throw new IllegalArgumentException("a grid of shape " + Arrays.toString(shape) + " has " + cells + " cells, not "
                    + values.length + " values");
        }
        List<ResultRow> out = new ArrayList<>();
        int[] idx = new int[shape.length];
        for (double value : values) {
            Integer layer = null;
            Integer position = null;
            Integer head = null;
            String patchType = null;
            List<String> other = new ArrayList<>();
            for (int k = 0; k < idx.length; k++) {
                switch (axes.get(k)) {
                    case "layer" -> layer = idx[k];
                    case "pos", "dest_pos" -> position = idx[k];
                    case "head", "head_index" -> head = idx[k];
                    case "patch_type" -> patchType = patchTypes.get(idx[k]);
                    default -> other.add(axes.get(k) + "=" + idx[k]);
                }
            }
            String label = patchType != null ? patchType
                    : !other.isEmpty() ? String.join(",", other)
                    : position != null ? (position < tokens.size() ? tokens.get(position) : null)
                    : head != null && layer != null ? headLabel(layer, head)
                    : null;
            out.add(new ResultRow(layer, position, head, label, value));
            for (int k = idx.length - 1; k >= 0 && ++idx[k] == shape[k]; k--) {
                idx[k] = 0;
            }
        }
        return new ResultTable(out);
    }

    /** A [layer][head] grid, each row labelled with its head as TransformerLens names heads ("L1H2"). */
    public static ResultTable heads(double[][] grid) {
        Objects.requireNonNull(grid, "grid");
        return headRows(grid, (l, h) -> headLabel(l, h));
    }

    /** A [layer][head] grid, every row labelled {@code label} (such as the ablation method or the head pattern). */
    public static ResultTable heads(double[][] grid, String label) {
        Objects.requireNonNull(grid, "grid");
        return headRows(grid, (l, h) -> label);
    }

    /** Several [layer][head] grids one after the other, the rows of {@code grids[i]} labelled {@code labels.get(i)}. */
    public static ResultTable heads(List<String> labels, double[][][] grids) {
        Objects.requireNonNull(labels, "labels");
        Objects.requireNonNull(grids, "grids");
        if (labels.size() != grids.length) {
            throw new IllegalArgumentException(labels.size() + " labels " + labels + " for " + grids.length + " grids; give one label per grid");
        }
        List<ResultRow> out = new ArrayList<>();
        for (int i = 0; i < grids.length; i++) {
            out.addAll(heads(grids[i], labels.get(i)).rows());
        }
        return new ResultTable(out);
    }

    /**
     * One value per component labelled as TransformerLens labels residual components: the layer
     * comes from "L3H1", "L3N7" or "3_attn_out" (null for "embed", "bias" and the like), the head
     * from "L3H1".
     */
    public static ResultTable components(List<String> labels, double[] values) {
        Objects.requireNonNull(labels, "labels");
        Objects.requireNonNull(values, "values");
        if (labels.size() != values.length) {
            throw new IllegalArgumentException(labels.size() + " labels for " + values.length + " values; give one label per value");
        }
        List<ResultRow> out = new ArrayList<>();
        for (int i = 0; i < values.length; i++) {
            String label = labels.get(i);
            Matcher m = HEAD_LABEL.matcher(label);
            out.add(new ResultRow(layerOf(label), null, m.matches() ? Integer.valueOf(m.group(2)) : null, label, values[i]));
        }
        return new ResultTable(out);
    }

    /**
     * One prompt of a [row][prompt][position] grid whose rows carry layer labels ("3_pre",
     * "final_post"): one row per (grid row, position), the grid row's label and layer, the
     * position from {@code positions}.
     *
     * @param labels one per grid row
     * @param positions the position each index of the position axis stands for
     * @param grid [row][prompt][position]
     * @param prompt which prompt, from 0
     */
    public static ResultTable byPosition(List<String> labels, int[] positions, double[][][] grid, int prompt) {
        Objects.requireNonNull(labels, "labels");
        Objects.requireNonNull(positions, "positions");
        Objects.requireNonNull(grid, "grid");
        if (labels.size() != grid.length) {
            throw new IllegalArgumentException(labels.size() + " labels for a grid of " + grid.length + " rows; give one label per row");
        }
        List<ResultRow> out = new ArrayList<>();
        for (int r = 0; r < labels.size(); r++) {
            if (prompt < 0 || prompt >= grid[r].length) {
                throw new IllegalArgumentException("prompt " + prompt + " is out of range: the grid holds " + grid[r].length + " prompt(s)");
            }
            String label = labels.get(r);
            for (int p = 0; p < positions.length; p++) {
                out.add(new ResultRow(layerOf(label), positions[p], null, label, grid[r][prompt][p]));
            }
        }
        return new ResultTable(out);
    }

    private interface HeadLabel {
        String of(int layer, int head);
    }

    private static ResultTable headRows(double[][] grid, HeadLabel label) {
        List<ResultRow> out = new ArrayList<>();
        for (int l = 0; l < grid.length; l++) {
            for (int h = 0; h < grid[l].length; h++) {
                out.add(new ResultRow(l, null, h, label.of(l, h), grid[l][h]));
            }
        }
        return new ResultTable(out);
    }

    /** A head as TransformerLens names it in labels (and as {@code analysis.Head} prints): "L1H2". */
    private static String headLabel(int layer, int head) {
        return "L" + layer + "H" + head;
    }

    /** The layer that TransformerLens' component labels name: "L3H1", "L3N7", "3_attn_out", "3_pre"; null for "embed", "final_post". */
    private static Integer layerOf(String label) {
        Matcher m = COMPONENT_LABEL.matcher(label);
        if (m.matches()) {
            return Integer.valueOf(m.group(1));
        }
        m = LAYER_LABEL.matcher(label);
        return m.matches() ? Integer.valueOf(m.group(1)) : null;
    }

    // -- CSV -----------------------------------------------------------------------------

    /** The table as CSV text (header first). */
    public String toCsv() {
        StringBuilder sb = new StringBuilder();
        try {
            writeCsv(sb);
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a StringBuilder does not throw
        }
        return sb.toString();
    }

    public void writeCsv(Path file) {
        Objects.requireNonNull(file, "file");
        try (BufferedWriter w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            writeCsv(w);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }

    public void writeCsv(Appendable out) throws IOException {
        Objects.requireNonNull(out, "out");
        out.append(String.join(",", COLUMNS)).append("\r\n");
        for (ResultRow r : rows) {
            out.append(number(r.layer())).append(',').append(number(r.position())).append(',').append(number(r.head())).append(',')
                    .append(quote(r.label())).append(',').append(Double.toString(r.value())).append("\r\n");
        }
    }

    private static String number(Integer n) {
        return n == null ? "" : n.toString();
    }

    private static String quote(String s) {
        if (s == null) {
            return "";
        }
        boolean plain = !s.isEmpty() && s.equals(s.strip()) && s.chars().noneMatch(c -> c == ',' || c == '"' || c == '\r' || c == '\n');
        return plain ? s : '"' + s.replace("\"", "\"\"") + '"';
    }

    public static ResultTable readCsv(Path file) {
        Objects.requireNonNull(file, "file");
        try {
            return parseCsv(Files.readString(file, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }

    /**
     * Parses CSV as {@link #writeCsv} writes it (RFC 4180; CRLF or LF line ends): the header
     * {@code layer,position,head,label,value}, then one row per line.
     */
    public static ResultTable parseCsv(String csv) {
        Objects.requireNonNull(csv, "csv");
        List<List<String>> records = records(csv);
        if (records.isEmpty() || !records.get(0).equals(COLUMNS)) {
            throw new IllegalArgumentException("a result table's CSV starts with the header " + String.join(",", COLUMNS)
                    + "; this one starts with " + (records.isEmpty() ? "nothing" : records.get(0)));
        }
        List<ResultRow> rows = new ArrayList<>();
        for (int i = 1; i < records.size(); i++) {
            List<String> f = records.get(i);
            if (f.size() != COLUMNS.size()) {
                throw new IllegalArgumentException("CSV record " + (i + 1) + " has " + f.size() + " fields, not " + COLUMNS.size() + ": " + f);
            }
            try {
                if (f.get(4) == null) {
                    throw new NumberFormatException("the value is empty");
                }
                rows.add(new ResultRow(integer(f.get(0)), integer(f.get(1)), integer(f.get(2)), f.get(3), Double.parseDouble(f.get(4))));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("CSV record " + (i + 1) + " " + f + " has a field that is not a number where one is needed: "
                        + e.getMessage(), e);
            }
        }
        return new ResultTable(rows);
    }

    private static Integer integer(String s) {
        return s == null ? null : Integer.valueOf(s);
    }

    /** RFC 4180 records; an unquoted empty field is null, a quoted one "". */
    private static List<List<String>> records(String csv) {
        List<List<String>> out = new ArrayList<>();
        List<String> record = new ArrayList<>();
        int i = 0;
        int n = csv.length();
        while (i < n) {
            String field;
            if (csv.charAt(i) == '"') {
                StringBuilder sb = new StringBuilder();
                i++;
                while (true) {
                    if (i >= n) {
                        throw new IllegalArgumentException("CSV record " + (out.size() + 1) + " has a quoted field that never ends");
                    }
                    char c = csv.charAt(i++);
                    if (c == '"') {
                        if (i < n && csv.charAt(i) == '"') {
                            sb.append('"');
                            i++;
                        } else {
                            break;
                        }
                    } else {
                        sb.append(c);
                    }
                }
                field = sb.toString();
                if (i < n && csv.charAt(i) != ',' && csv.charAt(i) != '\r' && csv.charAt(i) != '\n') {
                    throw new IllegalArgumentException("CSV record " + (out.size() + 1) + " has text after a closing quote");
                }
            } else {
                int start = i;
                while (i < n && csv.charAt(i) != ',' && csv.charAt(i) != '\r' && csv.charAt(i) != '\n') {
                    if (csv.charAt(i) == '"') {
                        throw new IllegalArgumentException("CSV record " + (out.size() + 1) + " has a quote inside an unquoted field");
                    }
                    i++;
                }
                field = i == start ? null : csv.substring(start, i);
            }
            record.add(field);
            if (i < n && csv.charAt(i) == ',') {
                i++;
                if (i == n) {
                    record.add(null);
                }
                continue;
            }
            if (i < n && csv.charAt(i) == '\r') {
                i++;
            }
            if (i < n && csv.charAt(i) == '\n') {
                i++;
            }
            out.add(record);
            record = new ArrayList<>();
        }
        if (!record.isEmpty()) {
            out.add(record);
        }
        return out;
    }

    // -- JSON lines ----------------------------------------------------------------------

    /** One JSON object per row and line, as {@code AnalysisJson.MAPPER} writes rows (NaN as "NaN"). */
    public String toJsonLines() {
        StringBuilder sb = new StringBuilder();
        for (ResultRow r : rows) {
            try {
                sb.append(JSON.writeValueAsString(r)).append('\n');
            } catch (JsonProcessingException e) {
                throw new IllegalStateException("cannot write " + r + " as JSON", e);
            }
        }
        return sb.toString();
    }

    public void writeJsonLines(Path file) {
        Objects.requireNonNull(file, "file");
        try {
            Files.writeString(file, toJsonLines(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }

    public static ResultTable readJsonLines(Path file) {
        Objects.requireNonNull(file, "file");
        try {
            List<ResultRow> rows = new ArrayList<>();
            List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
            for (int i = 0; i < lines.size(); i++) {
                if (!lines.get(i).isBlank()) {
                    try {
                        rows.add(JSON.readValue(lines.get(i), ResultRow.class));
                    } catch (JsonProcessingException e) {
                        throw new IllegalArgumentException(file + " line " + (i + 1) + " is not a result row: " + e.getOriginalMessage(), e);
                    }
                }
            }
            return new ResultTable(rows);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }

    @Override
    public String toString() {
        return "ResultTable[" + rows.size() + " rows" + (rows.isEmpty() ? "" : ", first " + rows.get(0)) + "]";
    }
}
