package org.lens4j.viz;

import java.util.List;

/**
 * Options of the attention views ({@link Views#attentionHeads}, {@link Views#attentionPattern},
 * and the title of {@link Views#attentionPatterns}); null means circuitsvis' default.
 *
 * <pre>{@code
 * Html heads = Views.attentionHeads(pattern, tokens, AttentionOptions.titled("Layer 0")
 *         .withHeadNames(List.of("L0H0", "L0H1", "L0H2", "L0H3"))
 *         .withMaxValue(1.0).withMinValue(0.0)
 *         .withPositiveColor("darkblue").withMaskUpperTri(true));
 * }</pre>
 *
 * @param title the page title, also shown as a heading above the view
 * @param headNames one name per head (attentionHeads only; default "Head 0", ...)
 * @param minValue the value drawn with {@code negativeColor} (default: the data's minimum or 0)
 * @param maxValue the value drawn with {@code positiveColor} (default: the data's maximum or 1)
 * @param negativeColor a CSS colour name or hex (default circuitsvis' red)
 * @param positiveColor a CSS colour name or hex (default circuitsvis' blue)
 * @param maskUpperTri whether to blank the future positions (default: true when the pattern is causal)
 * @param showAxisLabels whether to label the axes (attentionPattern only)
 */
public record AttentionOptions(String title, List<String> headNames, Double minValue, Double maxValue,
                               String negativeColor, String positiveColor, Boolean maskUpperTri, Boolean showAxisLabels) {

    public AttentionOptions {
        headNames = headNames == null ? null : ViewCall.strings(headNames, "headNames");
    }

    /** All defaults. */
    public static AttentionOptions defaults() {
        return new AttentionOptions(null, null, null, null, null, null, null, null);
    }

    /** Defaults with a title. */
    public static AttentionOptions titled(String title) {
        return defaults().withTitle(title);
    }

    public AttentionOptions withTitle(String value) {
        return with(b -> b.title = value);
    }

    public AttentionOptions withHeadNames(List<String> value) {
        return with(b -> b.headNames = value);
    }

    public AttentionOptions withMinValue(Double value) {
        return with(b -> b.minValue = value);
    }

    public AttentionOptions withMaxValue(Double value) {
        return with(b -> b.maxValue = value);
    }

    public AttentionOptions withNegativeColor(String value) {
        return with(b -> b.negativeColor = value);
    }

    public AttentionOptions withPositiveColor(String value) {
        return with(b -> b.positiveColor = value);
    }

    public AttentionOptions withMaskUpperTri(Boolean value) {
        return with(b -> b.maskUpperTri = value);
    }

    public AttentionOptions withShowAxisLabels(Boolean value) {
        return with(b -> b.showAxisLabels = value);
    }

    // The withers' one copy point (docs/API-CONVENTIONS.md); the canonical constructor still validates.
    private AttentionOptions with(java.util.function.Consumer<Builder> change) {
        Builder b = new Builder(this);
        change.accept(b);
        return new AttentionOptions(b.title, b.headNames, b.minValue, b.maxValue, b.negativeColor, b.positiveColor,
                b.maskUpperTri, b.showAxisLabels);
    }

    private static final class Builder {
        String title;
        List<String> headNames;
        Double minValue;
        Double maxValue;
        String negativeColor;
        String positiveColor;
        Boolean maskUpperTri;
        Boolean showAxisLabels;

        Builder(AttentionOptions o) {
            title = o.title; headNames = o.headNames; minValue = o.minValue; maxValue = o.maxValue;
            negativeColor = o.negativeColor; positiveColor = o.positiveColor; maskUpperTri = o.maskUpperTri;
            showAxisLabels = o.showAxisLabels;
        }
    }
}
