package org.lens4j.viz;

import java.util.List;

/**
 * Options of {@link Views#textNeuronActivations}: the names and labels of the two pickers.
 *
 * <pre>{@code
 * Html page = Views.textNeuronActivations(lens, activations, tokens,   // activations [tokens, layers, neurons]
 *         NeuronOptions.titled("MLP neurons").withFirstDimensionLabels(List.of("L0", "L1")));
 * }</pre>
 *
 * @param title the page title, also shown as a heading above the view
 * @param firstDimensionName the first picker's name (default "Layer")
 * @param secondDimensionName the second picker's name (default "Neuron")
 * @param firstDimensionLabels one label per layer (default the indices)
 * @param secondDimensionLabels one label per neuron (default the indices)
 */
public record NeuronOptions(String title, String firstDimensionName, String secondDimensionName,
                            List<String> firstDimensionLabels, List<String> secondDimensionLabels) {

    public NeuronOptions {
        firstDimensionLabels = firstDimensionLabels == null ? null : ViewCall.strings(firstDimensionLabels, "firstDimensionLabels");
        secondDimensionLabels = secondDimensionLabels == null ? null : ViewCall.strings(secondDimensionLabels, "secondDimensionLabels");
    }

    /** All defaults. */
    public static NeuronOptions defaults() {
        return new NeuronOptions(null, null, null, null, null);
    }

    /** Defaults with a title. */
    public static NeuronOptions titled(String title) {
        return defaults().withTitle(title);
    }

    public NeuronOptions withTitle(String value) {
        return new NeuronOptions(value, firstDimensionName, secondDimensionName, firstDimensionLabels, secondDimensionLabels);
    }

    public NeuronOptions withFirstDimensionName(String value) {
        return new NeuronOptions(title, value, secondDimensionName, firstDimensionLabels, secondDimensionLabels);
    }

    public NeuronOptions withSecondDimensionName(String value) {
        return new NeuronOptions(title, firstDimensionName, value, firstDimensionLabels, secondDimensionLabels);
    }

    public NeuronOptions withFirstDimensionLabels(List<String> value) {
        return new NeuronOptions(title, firstDimensionName, secondDimensionName, value, secondDimensionLabels);
    }

    public NeuronOptions withSecondDimensionLabels(List<String> value) {
        return new NeuronOptions(title, firstDimensionName, secondDimensionName, firstDimensionLabels, value);
    }
}
