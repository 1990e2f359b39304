package org.lens4j.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.lens4j.analysis.Ablation;
import org.lens4j.analysis.AnalysisJson;
import org.lens4j.analysis.DirectLogitAttribution;
import org.lens4j.analysis.Head;
import org.lens4j.analysis.HeadDetector;
import org.lens4j.analysis.LogitLens;
import org.lens4j.analysis.PathPatching;
import org.lens4j.analysis.Patching;

/**
 * Grid-shaped analysis results as long-format tables: one {@link ResultRow} per cell, written as
 * CSV or JSON lines, or kept as a Jackson-friendly {@code List<ResultRow>} ({@link #rows()}).
 *
 * <p>What the columns hold, per result (every cell becomes a row, NaN cells included):
 * <table>
 * <caption>columns per result type</caption>
 * <tr><th>result</th><th>layer</th><th>position</th><th>head</th><th>label</th><th>value</th></tr>
 * <tr><td>{@link Patching.Result}</td><td>layer axis</td><td>pos (or dest_pos) axis</td><td>head (or head_index) axis</td>
 *     <td>the patch type of a *_every sweep ("resid_pre", "out", "q", ...); else "src_pos=N" for the dest x src
 *     pattern sweep; else the clean prompt's (first prompt's) token at the position, such as " Mary"; else the
 *     head, "L1H2"</td><td>the metric</td></tr>
 * <tr><td>{@link PathPatching.Result}</td><td>sender layer</td><td>null</td><td>sender head</td><td>"L1H2"</td>
 *     <td>the metric</td></tr>
 * <tr><td>{@link Ablation.HeadAblation}</td><td>layer</td><td>null</td><td>head</td><td>the method ("zero", ...)</td>
 *     <td>the score</td></tr>
 * <tr><td>{@link Ablation.Comparison}</td><td>layer</td><td>null</td><td>head</td><td>the method</td><td>the score</td></tr>
 * <tr><td>{@link HeadDetector.Scores}</td><td>layer</td><td>null</td><td>head</td><td>the pattern ("induction_head")</td>
 *     <td>the score</td></tr>
 * <tr><td>{@link HeadDetector.RepeatedTokenScores}</td><td>layer</td><td>null</td><td>head</td>
 *     <td>"previous_token", "duplicate_token" or "induction"</td><td>the score</td></tr>
 * <tr><td>{@link DirectLogitAttribution.Attribution}</td><td>the component's layer ("L3H1", "L3N7", "3_attn_out"; null
 *     for "embed" and the like)</td><td>null</td><td>the component's head ("L3H1")</td><td>the component</td>
 *     <td>the mean over prompts</td></tr>
 * <tr><td>{@link LogitLens.Result} (one prompt)</td><td>the row's layer ("3_pre"; null for "final_post")</td>
 *     <td>position</td><td>null</td><td>the row ("3_pre")</td><td>KL(final || row)</td></tr>
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
 * ResultTable table = ResultTable.of(sweep);
 * table.writeCsv(Path.of("resid_pre.csv"));                  // pandas.read_csv("resid_pre.csv")
 * table.writeJsonLines(Path.of("resid_pre.jsonl"));
 * List<ResultRow> rows = table.rows();                        // Jackson writes it as a JSON array
 * ResultTable both = table.plus(ResultTable.of(headAblation));
 * ResultTable back = ResultTable.readCsv(Path.of("resid_pre.csv"));
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

    public static ResultTable of(Patching.Result result) {
        Objects.requireNonNull(result, "result");
        int[] shape = result.shape();
        List<String> axes = result.axes();
        List<String> tokens = result.tokens().isEmpty() ? List.of() : result.tokens().get(0);
        List<ResultRow> out = new ArrayList<>();
        int[] idx = new int[shape.length];
        double[] values = result.values();
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
                    case "patch_type" -> patchType = result.patchTypes().get(idx[k]);
                    default -> other.add(axes.get(k) + "=" + idx[k]);
                }
            }
            String label = patchType != null ? patchType
                    : !other.isEmpty() ? String.join(",", other)
                    : position != null ? (position < tokens.size() ? tokens.get(position) : null)
                    : head != null && layer != null ? Head.of(layer, head).toString()
                    : null;
            out.add(new ResultRow(layer, position, head, label, value));
            for (int k = idx.length - 1; k >= 0 && ++idx[k] == shape[k]; k--) {
                idx[k] = 0;
            }
        }
        return new ResultTable(out);
    }

    public static ResultTable of(PathPatching.Result result) {
        Objects.requireNonNull(result, "result");
        return heads(result.values(), (l, h) -> Head.of(l, h).toString());
    }

    public static ResultTable of(Ablation.HeadAblation result) {
        Objects.requireNonNull(result, "result");
        return heads(result.scores(), (l, h) -> result.method());
    }

    public static ResultTable of(Ablation.Comparison result) {
        Objects.requireNonNull(result, "result");
        ResultTable t = new ResultTable(List.of());
        for (int m = 0; m < result.methods().size(); m++) {
            String method = result.methods().get(m);
            t = t.plus(heads(result.scores()[m], (l, h) -> method));
        }
        return t;
    }

    public static ResultTable of(HeadDetector.Scores result) {
        Objects.requireNonNull(result, "result");
        return heads(result.scores(), (l, h) -> result.pattern());
    }

    public static ResultTable of(HeadDetector.RepeatedTokenScores result) {
        Objects.requireNonNull(result, "result");
        return heads(result.previousToken(), (l, h) -> "previous_token").plus(heads(result.duplicateToken(), (l, h) -> "duplicate_token"))
                .plus(heads(result.induction(), (l, h) -> "induction"));
    }

    public static ResultTable of(DirectLogitAttribution.Attribution result) {
        Objects.requireNonNull(result, "result");
        List<ResultRow> out = new ArrayList<>();
        for (int i = 0; i < result.values().length; i++) {
            String label = result.labels().get(i);
            Matcher m = HEAD_LABEL.matcher(label);
            out.add(new ResultRow(layerOf(label), null, m.matches() ? Integer.valueOf(m.group(2)) : null, label, result.values()[i]));
        }
        return new ResultTable(out);
    }

    /** The KL grid of a single-prompt lens; a lens of several prompts needs {@link #of(LogitLens.Result, int)}. */
    public static ResultTable of(LogitLens.Result result) {
        Objects.requireNonNull(result, "result");
        if (result.strTokens().size() != 1) {
            throw new IllegalArgumentException("this lens holds " + result.strTokens().size()
                    + " prompts and a row has no prompt column: use ResultTable.of(result, prompt) for one of them");
        }
        return of(result, 0);
    }

    /** The KL grid of one prompt of the lens: one row per (lens row, position). */
    public static ResultTable of(LogitLens.Result result, int prompt) {
        Objects.requireNonNull(result, "result");
        if (prompt < 0 || prompt >= result.strTokens().size()) {
            throw new IllegalArgumentException("prompt " + prompt + " is out of range: the lens holds " + result.strTokens().size() + " prompt(s)");
        }
        List<ResultRow> out = new ArrayList<>();
        for (int r = 0; r < result.labels().size(); r++) {
            String label = result.labels().get(r);
            for (int p = 0; p < result.positions().length; p++) {
                out.add(new ResultRow(layerOf(label), result.positions()[p], null, label, result.kl()[r][prompt][p]));
            }
        }
        return new ResultTable(out);
    }

    private interface HeadLabel {
        String of(int layer, int head);
    }

    private static ResultTable heads(double[][] grid, HeadLabel label) {
        List<ResultRow> out = new ArrayList<>();
        for (int l = 0; l < grid.length; l++) {
            for (int h = 0; h < grid[l].length; h++) {
                out.add(new ResultRow(l, null, h, label.of(l, h), grid[l][h]));
            }
        }
        return new ResultTable(out);
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

    /** One JSON object per row and line, as {@link AnalysisJson#MAPPER} writes rows (NaN as "NaN"). */
    public String toJsonLines() {
        StringBuilder sb = new StringBuilder();
        for (ResultRow r : rows) {
            try {
                sb.append(AnalysisJson.MAPPER.writeValueAsString(r)).append('\n');
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
                        rows.add(AnalysisJson.MAPPER.readValue(lines.get(i), ResultRow.class));
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
