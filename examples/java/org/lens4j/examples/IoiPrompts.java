package org.lens4j.examples;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.lens4j.batch.PromptRecord;

/**
 * Generated Indirect Object Identification prompts, as seed 001 builds them by hand: "When A and
 * B went to the P, A gave O to" -> " B" (not " A"); the corrupted prompt swaps the subject ("...,
 * B gave O to"), which makes " A" the indirect object. Names, places and objects are words of
 * the toy models' vocabulary (and single GPT-2 tokens), so the prompts work on both.
 */
public final class IoiPrompts {
    private static final String[] NAMES = {
        "John", "Mary", "Tom", "James", "Dan", "Sid", "Martin", "Amy", "Alice", "Bob",
        "David", "Susan", "Peter", "Laura", "Chris", "Linda", "Steve", "Helen", "Mike", "Karen",
    };
    private static final String[] INTROS = {"When", "After", "While"};
    private static final String[] PLACES = {"shops", "store", "park", "school", "station", "market", "beach", "office"};
    private static final String[] OBJECTS = {"the bag", "the ball", "an apple", "a drink", "the book", "a ring", "the key", "a letter"};

    private IoiPrompts() {
    }

    /** {@code n} prompts with ids "ioi-0", "ioi-1", ...; the same {@code seed} gives the same prompts. */
    public static List<PromptRecord> generate(int n, long seed) {
        Random random = new Random(seed);
        List<PromptRecord> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String a = pick(random, NAMES);
            String b;
            do {
                b = pick(random, NAMES);
            } while (b.equals(a));
            String opening = pick(random, INTROS) + " " + a + " and " + b + " went to the " + pick(random, PLACES) + ", ";
            String object = pick(random, OBJECTS);
            out.add(new PromptRecord("ioi-" + i, opening + a + " gave " + object + " to", opening + b + " gave " + object + " to",
                    " " + b, " " + a));
        }
        return out;
    }

    private static String pick(Random random, String[] from) {
        return from[random.nextInt(from.length)];
    }
}
