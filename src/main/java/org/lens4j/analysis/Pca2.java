package org.lens4j.analysis;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.lens4j.InvalidInputException;
import org.lens4j.Lens;
import org.lens4j.Tensor;
import org.lens4j.internal.Args;
import org.lens4j.internal.LensAccess;
import org.lens4j.viz.Figures;
import org.lens4j.viz.Html;
import org.lens4j.viz.ScatterOptions;

/**
 * Seed 003's linear separability plot: a 2-component PCA of a dataset's a and b activations
 * per layer ({@code PCA(n_components=2).fit(cat(a, b))}), with both sides projected onto it.
 *
 * <p>The PCA runs in Python, as an exact SVD of the centered data ({@code torch.linalg.svd}):
 * the activations are already there, the data is small (hundreds of rows x d_model) so the
 * exact decomposition is cheap and deterministic, and it equals scikit-learn's PCA up to the
 * sign of each component (here fixed so that a component's largest-magnitude entry is
 * positive). {@code torch.pca_lowrank} would be randomized and approximate, and a JVM library
 * would need the activations copied into Java first and would round differently.
 *
 * <pre>{@code
 * Pca2.Result pca = Pca2.fit(lens, data, List.of(4));
 * double[][] a2 = pca.projectionsA()[0];          // [pair][2]: seed 003's scatter of a
 * double sep = pca.accuracyPca()[0];              // how separable a and b are in the plane
 * }</pre>
 */
public final class Pca2 {
    private Pca2() {
    }

    /**
     * One PCA per layer. Indices: [layer row][...] in the order of {@code layers}.
     *
     * <pre>{@code
     * Pca2.Result r = Pca2.fit(lens, data); r.figure(lens, 4).save(Path.of("layer4.html"));
     * }</pre>
     *
     * @param layers the model layers, one per row
     * @param components [layer][2][d_model], unit vectors
     * @param projectionsA [layer][pair][2]: a's coordinates in the plane
     * @param projectionsB [layer][pair][2]
     * @param explainedVarianceRatio [layer][2]
     * @param mean [layer][d_model]: the centre of a and b together
     * @param accuracyPca [layer]: training accuracy of a mean-difference classifier in the plane
     * @param accuracyFull [layer]: the same in the full space
     */
    public record Result(List<Integer> layers, double[][][] components, double[][][] projectionsA, double[][][] projectionsB,
                         double[][] explainedVarianceRatio, double[][] mean, double[] accuracyPca, double[] accuracyFull) {
        /** Seed 003's scatter at one model layer: a and b in the plane of the two components. */
        public Html figure(Lens lens, int layer) {
            int row = layers.indexOf(layer);
            if (row < 0) {
                throw new InvalidInputException("no PCA for layer " + layer + "; layers: " + layers);
            }
            int na = projectionsA[row].length;
            int nb = projectionsB[row].length;
            double[] x = new double[na + nb];
            double[] y = new double[na + nb];
            List<String> group = new ArrayList<>();
            List<String> names = new ArrayList<>();
            for (int i = 0; i < na + nb; i++) {
                double[] p = i < na ? projectionsA[row][i] : projectionsB[row][i - na];
                x[i] = p[0];
                y[i] = p[1];
                group.add(i < na ? "a" : "b");
                names.add((i < na ? "a" : "b") + (i < na ? i : i - na));
            }
            return Figures.scatter(lens, x, y, ScatterOptions.titled("Layer " + layer + " activation separability")
                    .withColor(group).withHoverNames(names).withXaxis("PCA component 0").withYaxis("PCA component 1"));
        }

        @Override
        public String toString() {
            return Shown.of(this);
        }
    }

    /** PCA at every layer of the dataset. */
    public static Result fit(Lens lens, ActivationDataset data) {
        return fit(lens, data, null);
    }

    /** PCA at the given model layers (each must be in the dataset); null for all. */
    public static Result fit(Lens lens, ActivationDataset data, List<Integer> layers) {
        Objects.requireNonNull(lens, "lens");
        Objects.requireNonNull(data, "data");
        List<Integer> rows = null;
        if (layers != null) {
            rows = new ArrayList<>();
            for (Integer l : Wire.checkedList(layers, "layers")) {
                rows.add(data.row(l));
            }
        }
        try (Tensor a = data.send(lens, data.a()); Tensor b = data.send(lens, data.b())) {
            JsonNode v = LensAccess.ops(lens).call("analysis.pca2", Args.of("a", a.ref(), "b", b.ref(), "layers", rows).map()).value();
            List<Integer> modelLayers = new ArrayList<>();
            for (JsonNode r : v.get("layers")) {
                modelLayers.add(data.layers().get(r.asInt()));
            }
            return new Result(List.copyOf(modelLayers), Wire.d3(lens, v.get("components")), Wire.d3(lens, v.get("projections_a")),
                    Wire.d3(lens, v.get("projections_b")), Wire.d2(lens, v.get("explained_variance_ratio")), Wire.d2(lens, v.get("mean")),
                    Wire.d1(lens, v.get("accuracy_pca")), Wire.d1(lens, v.get("accuracy_full")));
        }
    }
}
