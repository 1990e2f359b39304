package org.lens4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** {@link Names} says what it is through typed queries, so nothing parses its {@code toString()}. */
class NamesQueryTest {
    @Test
    void onlyAllIsAllEvenWhenAnotherSelectionMatchesEveryName() {
        assertTrue(Names.all().isAll());
        assertFalse(Names.matching(n -> true).isAll());
        assertFalse(Names.glob("*").isAll());
        assertFalse(Names.of("blocks.0.hook_resid_pre").isAll());
    }

    @Test
    void explicitNamesAreThoseGivenToOfInOrderAndEmptyOtherwise() {
        assertEquals(Optional.of(List.of("blocks.1.hook_resid_pre", "blocks.0.hook_resid_pre")),
                Names.of("blocks.1.hook_resid_pre", "blocks.0.hook_resid_pre").explicitNames());
        assertEquals(Optional.empty(), Names.all().explicitNames());
        assertEquals(Optional.empty(), Names.only("resid_pre").explicitNames());
        assertEquals(Optional.empty(), Names.glob("blocks.*.hook_resid_pre").explicitNames());
        assertEquals(Optional.empty(), Names.matching(n -> n.equals("blocks.0.hook_resid_pre")).explicitNames());
    }
}
