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
        return new AttentionOptions(value, headNames, minValue, maxValue, negativeColor, positiveColor, maskUpperTri, showAxisLabels);
    }

    public AttentionOptions withHeadNames(List<String> value) {
        return new AttentionOptions(title, value, minValue, maxValue, negativeColor, positiveColor, maskUpperTri, showAxisLabels);
    }

    public AttentionOptions withMinValue(Double value) {
        return new AttentionOptions(title, headNames, value, maxValue, negativeColor, positiveColor, maskUpperTri, showAxisLabels);
    }

    public AttentionOptions withMaxValue(Double value) {
        return new AttentionOptions(title, headNames, minValue, value, negativeColor, positiveColor, maskUpperTri, showAxisLabels);
    }

    public AttentionOptions withNegativeColor(String value) {
        return new AttentionOptions(title, headNames, minValue, maxValue, value, positiveColor, maskUpperTri, showAxisLabels);
    }

    public AttentionOptions withPositiveColor(String value) {
        return new AttentionOptions(title, headNames, minValue, maxValue, negativeColor, value, maskUpperTri, showAxisLabels);
    }

    public AttentionOptions withMaskUpperTri(Boolean value) {
        return new AttentionOptions(title, headNames, minValue, maxValue, negativeColor, positiveColor, value, showAxisLabels);
    }

    public AttentionOptions withShowAxisLabels(Boolean value) {
        return new AttentionOptions(title, headNames, minValue, maxValue, negativeColor, positiveColor, maskUpperTri, value);
    }
}
