package org.lens4j.analysis;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.lens4j.InvalidInputException;

/**
 * One attention head, labelled as TransformerLens labels it: {@code L9H6} is head 6 of layer 9.
 *
 * <pre>{@code
 * Head nameMover = Head.parse("L9H9");
 * Head same = Head.of(9, 9);
 * System.out.println(nameMover);                                   // L9H9
 * Ablation.Options opts = Ablation.Options.defaults().withHeads(List.of(nameMover, Head.of(10, 7)));
 * }</pre>
 *
 * @param layer the layer, from 0
 * @param head the head within the layer, from 0
 */
public record Head(int layer, int head) implements Comparable<Head> {
    private static final Pattern LABEL = Pattern.compile("L(\\d+)H(\\d+)");

    public Head {
        if (layer < 0 || head < 0) {
            throw new InvalidInputException("a head needs a layer >= 0 and a head index >= 0; got layer " + layer + ", head " + head);
        }
    }

    public static Head of(int layer, int head) {
        return new Head(layer, head);
    }

    /** A head from its label, such as {@code "L9H6"}. */
    public static Head parse(String label) {
        Matcher m = label == null ? null : LABEL.matcher(label.strip());
        if (m == null || !m.matches()) {
            throw new InvalidInputException("'" + label + "' is not a head label: write it as L<layer>H<head>, such as L9H6");
        }
        return new Head(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)));
    }

    /** The {@code [layer, head]} pair the Python ops take. */
    List<Integer> wire() {
        return List.of(layer, head);
    }

    static List<List<Integer>> wire(List<Head> heads) {
        if (heads == null) {
            return null;
        }
        if (heads.isEmpty()) {
            throw new InvalidInputException("the list of heads is empty: give at least one head, or null for every head");
        }
        return heads.stream().map(h -> {
            if (h == null) {
                throw new InvalidInputException("the list of heads contains null");
            }
            return h.wire();
        }).toList();
    }

    @Override
    public int compareTo(Head o) {
        return layer != o.layer ? Integer.compare(layer, o.layer) : Integer.compare(head, o.head);
    }

    @Override
    public String toString() {
        return "L" + layer + "H" + head;
    }
}
