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
        return with(b -> b.title = value);
    }

    public NeuronOptions withFirstDimensionName(String value) {
        return with(b -> b.firstDimensionName = value);
    }

    public NeuronOptions withSecondDimensionName(String value) {
        return with(b -> b.secondDimensionName = value);
    }

    public NeuronOptions withFirstDimensionLabels(List<String> value) {
        return with(b -> b.firstDimensionLabels = value);
    }

    public NeuronOptions withSecondDimensionLabels(List<String> value) {
        return with(b -> b.secondDimensionLabels = value);
    }

    // The withers' one copy point (docs/API-CONVENTIONS.md); the canonical constructor still validates.
    private NeuronOptions with(java.util.function.Consumer<Builder> change) {
        Builder b = new Builder(this);
        change.accept(b);
        return new NeuronOptions(b.title, b.firstDimensionName, b.secondDimensionName, b.firstDimensionLabels,
                b.secondDimensionLabels);
    }

    private static final class Builder {
        String title;
        String firstDimensionName;
        String secondDimensionName;
        List<String> firstDimensionLabels;
        List<String> secondDimensionLabels;

        Builder(NeuronOptions o) {
            title = o.title; firstDimensionName = o.firstDimensionName; secondDimensionName = o.secondDimensionName;
            firstDimensionLabels = o.firstDimensionLabels; secondDimensionLabels = o.secondDimensionLabels;
        }
    }
}
