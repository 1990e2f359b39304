package org.lens4j.viz;

import java.util.List;

/**
 * Options of {@link Views#topkTokens}.
 *
 * <pre>{@code
 * Html page = Views.topkTokens(lens, List.of(acts0, acts1), List.of(tokens0, tokens1),   // acts [layers, tokens, neurons]
 *         TopkOptions.titled("Top tokens per neuron").withMaxK(5).withSampleLabels(List.of("clean", "corrupted")));
 * }</pre>
 *
 * @param title the page title, also shown as a heading above the view
 * @param maxK how many top (and bottom) tokens to list per neuron (default 10)
 * @param firstDimensionName the first picker's name (default "Layer")
 * @param thirdDimensionName the name of the activations' last dimension (default "Neuron")
 * @param sampleLabels one label per sample (default the indices)
 * @param firstDimensionLabels one label per entry of the first dimension (default the indices)
 */
public record TopkOptions(String title, Integer maxK, String firstDimensionName, String thirdDimensionName,
                          List<String> sampleLabels, List<String> firstDimensionLabels) {

    public TopkOptions {
        if (maxK != null && maxK <= 0) {
            throw new IllegalArgumentException("maxK must be positive, got " + maxK);
        }
        sampleLabels = sampleLabels == null ? null : ViewCall.strings(sampleLabels, "sampleLabels");
        firstDimensionLabels = firstDimensionLabels == null ? null : ViewCall.strings(firstDimensionLabels, "firstDimensionLabels");
    }

    /** All defaults. */
    public static TopkOptions defaults() {
        return new TopkOptions(null, null, null, null, null, null);
    }

    /** Defaults with a title. */
    public static TopkOptions titled(String title) {
        return defaults().withTitle(title);
    }

    public TopkOptions withTitle(String value) {
        return with(b -> b.title = value);
    }

    public TopkOptions withMaxK(Integer value) {
        return with(b -> b.maxK = value);
    }

    public TopkOptions withFirstDimensionName(String value) {
        return with(b -> b.firstDimensionName = value);
    }

    public TopkOptions withThirdDimensionName(String value) {
        return with(b -> b.thirdDimensionName = value);
    }

    public TopkOptions withSampleLabels(List<String> value) {
        return with(b -> b.sampleLabels = value);
    }

    public TopkOptions withFirstDimensionLabels(List<String> value) {
        return with(b -> b.firstDimensionLabels = value);
    }

    // The withers' one copy point (docs/API-CONVENTIONS.md); the canonical constructor still validates.
    private TopkOptions with(java.util.function.Consumer<Builder> change) {
        Builder b = new Builder(this);
        change.accept(b);
        return new TopkOptions(b.title, b.maxK, b.firstDimensionName, b.thirdDimensionName, b.sampleLabels,
                b.firstDimensionLabels);
    }

    private static final class Builder {
        String title;
        Integer maxK;
        String firstDimensionName;
        String thirdDimensionName;
        List<String> sampleLabels;
        List<String> firstDimensionLabels;

        Builder(TopkOptions o) {
            title = o.title; maxK = o.maxK; firstDimensionName = o.firstDimensionName; thirdDimensionName = o.thirdDimensionName;
            sampleLabels = o.sampleLabels; firstDimensionLabels = o.firstDimensionLabels;
        }
    }
}
