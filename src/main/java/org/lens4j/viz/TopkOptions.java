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
        return new TopkOptions(value, maxK, firstDimensionName, thirdDimensionName, sampleLabels, firstDimensionLabels);
    }

    public TopkOptions withMaxK(Integer value) {
        return new TopkOptions(title, value, firstDimensionName, thirdDimensionName, sampleLabels, firstDimensionLabels);
    }

    public TopkOptions withFirstDimensionName(String value) {
        return new TopkOptions(title, maxK, value, thirdDimensionName, sampleLabels, firstDimensionLabels);
    }

    public TopkOptions withThirdDimensionName(String value) {
        return new TopkOptions(title, maxK, firstDimensionName, value, sampleLabels, firstDimensionLabels);
    }

    public TopkOptions withSampleLabels(List<String> value) {
        return new TopkOptions(title, maxK, firstDimensionName, thirdDimensionName, value, firstDimensionLabels);
    }

    public TopkOptions withFirstDimensionLabels(List<String> value) {
        return new TopkOptions(title, maxK, firstDimensionName, thirdDimensionName, sampleLabels, value);
    }
}
