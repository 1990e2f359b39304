package org.lens4j.viz;

/**
 * Options of {@link Views#coloredTokens}; null means circuitsvis' default.
 *
 * <pre>{@code
 * Html page = Views.coloredTokens(lens, new double[] {0.2, -1.5, 3.0}, List.of("When", " John", " and"),
 *         ColorOptions.titled("Direct logit attribution").withMinValue(-3.0).withMaxValue(3.0));
 * }</pre>
 *
 * @param title the page title, also shown as a heading above the view
 * @param minValue the value drawn with {@code negativeColor} (default: the data's minimum)
 * @param maxValue the value drawn with {@code positiveColor} (default: the data's maximum)
 * @param negativeColor a CSS colour name or hex (default red)
 * @param positiveColor a CSS colour name or hex (default blue)
 */
public record ColorOptions(String title, Double minValue, Double maxValue, String negativeColor, String positiveColor) {

    /** All defaults. */
    public static ColorOptions defaults() {
        return new ColorOptions(null, null, null, null, null);
    }

    /** Defaults with a title. */
    public static ColorOptions titled(String title) {
        return defaults().withTitle(title);
    }

    public ColorOptions withTitle(String value) {
        return with(b -> b.title = value);
    }

    public ColorOptions withMinValue(Double value) {
        return with(b -> b.minValue = value);
    }

    public ColorOptions withMaxValue(Double value) {
        return with(b -> b.maxValue = value);
    }

    public ColorOptions withNegativeColor(String value) {
        return with(b -> b.negativeColor = value);
    }

    public ColorOptions withPositiveColor(String value) {
        return with(b -> b.positiveColor = value);
    }

    // The withers' one copy point (docs/API-CONVENTIONS.md); the canonical constructor still validates.
    private ColorOptions with(java.util.function.Consumer<Builder> change) {
        Builder b = new Builder(this);
        change.accept(b);
        return new ColorOptions(b.title, b.minValue, b.maxValue, b.negativeColor, b.positiveColor);
    }

    private static final class Builder {
        String title;
        Double minValue;
        Double maxValue;
        String negativeColor;
        String positiveColor;

        Builder(ColorOptions o) {
            title = o.title; minValue = o.minValue; maxValue = o.maxValue; negativeColor = o.negativeColor;
            positiveColor = o.positiveColor;
        }
    }
}
