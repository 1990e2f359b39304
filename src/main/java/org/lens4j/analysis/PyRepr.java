package org.lens4j.analysis;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.List;
import java.util.stream.Collectors;

/** Python's repr of strings and lists of strings, so that printouts read as TransformerLens' do. */
final class PyRepr {
    private PyRepr() {
    }

    static String string(String s) {
        char quote = s.indexOf('\'') >= 0 && s.indexOf('"') < 0 ? '"' : '\'';
        StringBuilder sb = new StringBuilder().append(quote);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c == quote) {
                        sb.append('\\').append(c);
                    } else if (c < 0x20 || c == 0x7f) {
                        sb.append(String.format("\\x%02x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        return sb.append(quote).toString();
    }

    /** Python's {@code f"{x:.Nf}"}: the exact binary value rounded half-even, as CPython does. */
    static String fixed(double x, int decimals) {
        if (Double.isNaN(x)) {
            return "nan";
        }
        if (Double.isInfinite(x)) {
            return x > 0 ? "inf" : "-inf";
        }
        String s = new BigDecimal(x).setScale(decimals, RoundingMode.HALF_EVEN).toPlainString();
        boolean negative = x < 0 || (x == 0 && 1 / x < 0);
        return negative && !s.startsWith("-") ? "-" + s : s;
    }

    static String list(List<String> items) {
        return items.stream().map(PyRepr::string).collect(Collectors.joining(", ", "[", "]"));
    }

    static String nested(List<List<String>> items) {
        return items.stream().map(PyRepr::list).collect(Collectors.joining(", ", "[", "]"));
    }
}
