package org.lens4j.analysis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.lens4j.InvalidInputException;
import org.lens4j.Slice;

/**
 * What a metric's positions send to the worker (docs/metrics-spec.md: null, "all", an int, a
 * list per prompt, or rows of positions). Evaluated positions are checked against the reference
 * in MetricsTest.
 */
class PositionsTest {

    @Test
    void aSliceSaysTheSamePositionsForEveryPromptInTheSpecsFormerWireForm() {
        assertEquals("all", Positions.of(Slice.all()).wire());
        assertEquals(-1, Positions.of(Slice.at(-1)).wire());
        // one row, which the worker gives every prompt (the former Positions.atEach)
        assertEquals(List.of(List.of(5, -1)), Positions.of(Slice.indices(5, -1)).wire());
        assertEquals("all", Positions.of(Slice.range(null, null)).wire());
    }

    @Test
    void lastAndPerPromptAreWhatASliceCannotSay() {
        assertNull(Positions.last().wire());
        assertEquals(List.of(12, 14, 13), Positions.perPrompt(12, 14, 13).wire());
        assertEquals(List.of(List.of(1, 2), List.of(3, 4)), Positions.perPrompt(new int[] {1, 2}, new int[] {3, 4}).wire());
        assertEquals("Positions.last", Positions.last().toString());
        assertEquals("Positions.of(Slice[[5, -1]])", Positions.of(Slice.indices(5, -1)).toString());
    }

    @Test
    void aRangeWithBothEndsOnOneSideIsSentAsItsPositions() {
        assertEquals(List.of(List.of(2, 3, 4)), Positions.of(Slice.range(2, 5)).wire());
        assertEquals(List.of(List.of(0, 1, 2)), Positions.of(Slice.to(3)).wire());
        assertEquals(List.of(List.of(0, 2, 4)), Positions.of(Slice.range(0, 6, 2)).wire());
        assertEquals(List.of(List.of(-3, -2, -1)), Positions.of(Slice.from(-3)).wire());
        assertEquals(List.of(List.of(-4, -3)), Positions.of(Slice.range(-4, -2)).wire());
        assertEquals(Positions.of(Slice.indices(-3, -2, -1)), Positions.of(Slice.from(-3)));
    }

    @Test
    void aRangeThatNeedsTheSequenceLengthOrSelectsNothingIsRefusedWithWhatIsValid() {
        for (Slice s : List.of(Slice.from(2), Slice.range(1, -1), Slice.to(-1), Slice.range(-2, 3), Slice.range(null, null, 2))) {
            InvalidInputException e = assertThrows(InvalidInputException.class, () -> Positions.of(s), s.toString());
            assertTrue(e.getMessage().contains("sequence length") && e.getMessage().contains("Slice.indices"), e.getMessage());
        }
        InvalidInputException empty = assertThrows(InvalidInputException.class, () -> Positions.of(Slice.range(3, 3)));
        assertTrue(empty.getMessage().contains("no position"), empty.getMessage());
        assertThrows(NullPointerException.class, () -> Positions.of(null));
        assertThrows(InvalidInputException.class, () -> Positions.perPrompt(new int[] {1}, new int[] {1, 2}));
    }
}
