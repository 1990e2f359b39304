package org.lens4j;

/**
 * How to load a model. The defaults are those of the old {@code HookedTransformer.from_pretrained}:
 * compatibility mode with fold_ln, center_writing_weights and center_unembed on.
 *
 * <pre>{@code
 * Model raw = lens.load("toy-ioi", LoadOptions.defaults().withFoldLn(false).withCenterUnembed(false));
 * Model half = lens.load("toy-ioi", LoadOptions.defaults().withDtype(DType.BFLOAT16).withDevice("cuda"));
 * }</pre>
 *
 * @param device "auto", "cpu", "cuda", "cuda:N"; null takes the Lens's default
 * @param dtype FLOAT32, FLOAT16, BFLOAT16 or FLOAT64
 * @param compatibilityMode apply TransformerLens' compatibility mode (HookedTransformer numerics and hook aliases)
 * @param foldLn fold layer-norm weights into the next linear layers
 * @param centerWritingWeights center the weights that write to the residual stream
 * @param centerUnembed center the unembedding matrix
 * @param foldValueBiases fold value biases into the output bias
 * @param refactorFactoredAttnMatrices refactor the factored attention matrices
 * @param nDevices split the model over this many devices (null: one)
 * @param deviceMap a Hugging Face device map such as "auto" (null: none)
 * @param torchWeightsOnly also load a model whose weights are only a PyTorch pickle
 *     ({@code pytorch_model.bin}), through torch's weights-only unpickler. Off by default:
 *     weights load from safetensors only, since a pickle is a program. The worker's
 *     environment variable {@code LENS4J_TORCH_WEIGHTS_ONLY=1} turns it on for every load.
 */
public record LoadOptions(
        String device,
        DType dtype,
        boolean compatibilityMode,
        boolean foldLn,
        boolean centerWritingWeights,
        boolean centerUnembed,
        boolean foldValueBiases,
        boolean refactorFactoredAttnMatrices,
        Integer nDevices,
        String deviceMap,
        boolean torchWeightsOnly) implements java.io.Serializable {

    public LoadOptions {
        if (dtype == null || !dtype.isFloatingPoint()) {
            throw new IllegalArgumentException("a model's dtype must be FLOAT32, FLOAT64, FLOAT16 or BFLOAT16; got " + dtype);
        }
        if (nDevices != null && nDevices < 1) {
            throw new IllegalArgumentException("nDevices must be >= 1; got " + nDevices);
        }
    }

    public static LoadOptions defaults() {
        return new LoadOptions(null, DType.FLOAT32, true, true, true, true, true, false, null, null, false);
    }

    public LoadOptions withDevice(String value) {
        return with(b -> b.device = value);
    }

    public LoadOptions withDtype(DType value) {
        return with(b -> b.dtype = value);
    }

    public LoadOptions withCompatibilityMode(boolean value) {
        return with(b -> b.compatibilityMode = value);
    }

    public LoadOptions withFoldLn(boolean value) {
        return with(b -> b.foldLn = value);
    }

    public LoadOptions withCenterWritingWeights(boolean value) {
        return with(b -> b.centerWritingWeights = value);
    }

    public LoadOptions withCenterUnembed(boolean value) {
        return with(b -> b.centerUnembed = value);
    }

    public LoadOptions withFoldValueBiases(boolean value) {
        return with(b -> b.foldValueBiases = value);
    }

    public LoadOptions withRefactorFactoredAttnMatrices(boolean value) {
        return with(b -> b.refactorFactoredAttnMatrices = value);
    }

    public LoadOptions withNDevices(Integer value) {
        return with(b -> b.nDevices = value);
    }

    public LoadOptions withDeviceMap(String value) {
        return with(b -> b.deviceMap = value);
    }

    /** See {@link #torchWeightsOnly()}: accept pickle weights, read by torch's weights-only unpickler. */
    public LoadOptions withTorchWeightsOnly(boolean value) {
        return with(b -> b.torchWeightsOnly = value);
    }

    // The withers' one copy point (docs/API-CONVENTIONS.md); the canonical constructor still validates.
    private LoadOptions with(java.util.function.Consumer<Builder> change) {
        Builder b = new Builder(this);
        change.accept(b);
        return new LoadOptions(b.device, b.dtype, b.compatibilityMode, b.foldLn, b.centerWritingWeights, b.centerUnembed,
                b.foldValueBiases, b.refactorFactoredAttnMatrices, b.nDevices, b.deviceMap, b.torchWeightsOnly);
    }

    private static final class Builder {
        String device;
        DType dtype;
        boolean compatibilityMode;
        boolean foldLn;
        boolean centerWritingWeights;
        boolean centerUnembed;
        boolean foldValueBiases;
        boolean refactorFactoredAttnMatrices;
        Integer nDevices;
        String deviceMap;
        boolean torchWeightsOnly;

        Builder(LoadOptions o) {
            device = o.device; dtype = o.dtype; compatibilityMode = o.compatibilityMode; foldLn = o.foldLn;
            centerWritingWeights = o.centerWritingWeights; centerUnembed = o.centerUnembed; foldValueBiases = o.foldValueBiases;
            refactorFactoredAttnMatrices = o.refactorFactoredAttnMatrices; nDevices = o.nDevices; deviceMap = o.deviceMap;
            torchWeightsOnly = o.torchWeightsOnly;
        }
    }
}
