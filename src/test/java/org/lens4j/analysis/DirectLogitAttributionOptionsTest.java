package org.lens4j.analysis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.RecordComponent;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.lens4j.InvalidInputException;
import org.lens4j.Slice;
import org.lens4j.analysis.DirectLogitAttribution.AccumulatedResidOptions;
import org.lens4j.analysis.DirectLogitAttribution.ApplyLnToStackOptions;
import org.lens4j.analysis.DirectLogitAttribution.DecomposeResidOptions;
import org.lens4j.analysis.DirectLogitAttribution.FullResidDecompositionOptions;
import org.lens4j.analysis.DirectLogitAttribution.LogitAttrsOptions;
import org.lens4j.analysis.DirectLogitAttribution.Mode;
import org.lens4j.analysis.DirectLogitAttribution.StackHeadResultsOptions;

/**
 * Each cache method's options record holds exactly the arguments TransformerLens' method takes,
 * in its order, with its defaults; withers change one component; a layer below -1 is refused
 * when the record is made. (The methods themselves against TransformerLens: DirectLogitAttributionTest.)
 */
class DirectLogitAttributionOptionsTest {

    private static List<String> components(Class<? extends Record> type) {
        return Arrays.stream(type.getRecordComponents()).map(RecordComponent::getName).toList();
    }

    @Test
    void eachRecordHoldsItsMethodsArgumentsInTransformerLensOrder() {
        Map<Class<? extends Record>, List<String>> expected = Map.of(
                AccumulatedResidOptions.class, List.of("layer", "inclMid", "applyLn", "posSlice", "mlpInput"),
                DecomposeResidOptions.class, List.of("layer", "mlpInput", "mode", "applyLn", "posSlice", "inclEmbeds"),
                StackHeadResultsOptions.class, List.of("layer", "inclRemainder", "posSlice", "applyLn"),
                FullResidDecompositionOptions.class, List.of("layer", "mlpInput", "expandNeurons", "applyLn", "posSlice"),
                ApplyLnToStackOptions.class, List.of("layer", "mlpInput", "posSlice", "batchSlice", "hasBatchDim", "recomputeLn"),
                LogitAttrsOptions.class, List.of("posSlice", "batchSlice", "hasBatchDim"));
        expected.forEach((type, names) -> assertEquals(names, components(type), type.getSimpleName()));
        assertEquals(expected.size(), expected.values().stream().distinct().count(), "no two methods read the same arguments");
    }

    @Test
    void defaultsAreTransformerLensDefaults() {
        assertEquals(new AccumulatedResidOptions(null, false, false, null, false), AccumulatedResidOptions.defaults());
        assertEquals(new DecomposeResidOptions(null, false, Mode.ALL, false, null, true), DecomposeResidOptions.defaults());
        assertEquals(new StackHeadResultsOptions(null, false, null, false), StackHeadResultsOptions.defaults());
        assertEquals(new FullResidDecompositionOptions(null, false, true, false, null), FullResidDecompositionOptions.defaults());
        assertEquals(new ApplyLnToStackOptions(null, false, null, null, true, false), ApplyLnToStackOptions.defaults());
        assertEquals(new LogitAttrsOptions(null, null, true), LogitAttrsOptions.defaults());
    }

    @Test
    void withersChangeOneComponentAndKeepTheRest() {
        Slice last = Slice.at(-1);
        assertEquals(new AccumulatedResidOptions(-1, true, true, last, true),
                AccumulatedResidOptions.defaults().withLayer(-1).withInclMid(true).withApplyLn(true).withPosSlice(last).withMlpInput(true));
        assertEquals(new DecomposeResidOptions(3, true, Mode.MLP, true, last, false), DecomposeResidOptions.defaults().withLayer(3)
                .withMlpInput(true).withMode(Mode.MLP).withApplyLn(true).withPosSlice(last).withInclEmbeds(false));
        assertEquals(Mode.ALL, DecomposeResidOptions.defaults().withMode(null).mode(), "a null mode is TransformerLens' 'all'");
        assertEquals(new StackHeadResultsOptions(2, true, last, true),
                StackHeadResultsOptions.defaults().withLayer(2).withInclRemainder(true).withPosSlice(last).withApplyLn(true));
        assertEquals(new FullResidDecompositionOptions(0, true, false, true, last), FullResidDecompositionOptions.defaults().withLayer(0)
                .withMlpInput(true).withExpandNeurons(false).withApplyLn(true).withPosSlice(last));
        assertEquals(new ApplyLnToStackOptions(-1, true, last, Slice.range(0, 2), false, true), ApplyLnToStackOptions.defaults().withLayer(-1)
                .withMlpInput(true).withPosSlice(last).withBatchSlice(Slice.range(0, 2)).withHasBatchDim(false).withRecomputeLn(true));
        assertEquals(new LogitAttrsOptions(last, Slice.at(1), false),
                LogitAttrsOptions.defaults().withPosSlice(last).withBatchSlice(Slice.at(1)).withHasBatchDim(false));
        assertEquals(StackHeadResultsOptions.defaults().withLayer(null), StackHeadResultsOptions.defaults(), "null layer: all layers");
    }

    @Test
    void aLayerBelowMinusOneIsRefusedWhenTheRecordIsMade() {
        List<Runnable> makes = List.of(
                () -> AccumulatedResidOptions.defaults().withLayer(-2),
                () -> DecomposeResidOptions.defaults().withLayer(-2),
                () -> StackHeadResultsOptions.defaults().withLayer(-2),
                () -> FullResidDecompositionOptions.defaults().withLayer(-2),
                () -> new ApplyLnToStackOptions(-5, false, null, null, true, false));
        for (Runnable make : makes) {
            InvalidInputException e = assertThrows(InvalidInputException.class, make::run);
            assertTrue(e.getMessage().contains("is out of range: valid 0..n_layers, or -1 / null"), e.getMessage());
        }
    }

    @Test
    void theMethodsNameAMissingOptionsArgument() {
        NullPointerException e = assertThrows(NullPointerException.class,
                () -> DirectLogitAttribution.stackHeadResults(null, (StackHeadResultsOptions) null));
        assertEquals("options", e.getMessage());
        e = assertThrows(NullPointerException.class, () -> DirectLogitAttribution.stackHeadResults(null, StackHeadResultsOptions.defaults()));
        assertEquals("cache", e.getMessage());
    }
}
