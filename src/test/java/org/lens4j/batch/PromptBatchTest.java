package org.lens4j.batch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lens4j.InvalidInputException;
import org.lens4j.Model;
import org.lens4j.Scope;
import org.lens4j.Tensor;
import org.lens4j.TestLens;
import org.lens4j.analysis.Metrics;
import org.lens4j.analysis.Patching;
import org.lens4j.examples.IoiPrompts;

/** The batch API on toy-ioi: values, chunking, checkpoints and resuming, bad input. */
class PromptBatchTest {
    private static Model model;
    private static List<PromptRecord> prompts;

    @BeforeAll
    static void load() {
        model = TestLens.lens().load("toy-ioi");
        prompts = IoiPrompts.generate(40, 7);
    }

    /** The logit difference of each prompt run alone (no padding), read from the raw logits in Java. */
    private static double aloneLogitDiff(String prompt, String correct, String incorrect) {
        try (Scope scope = model.lens().scope()) {
            Tensor logits = model.logits(prompt);
            float[] last = logits.select(0, 0).select(0, logits.size(1) - 1).toFloatArray();
            return last[model.toSingleToken(correct)] - last[model.toSingleToken(incorrect)];
        }
    }

    @Test
    void logitDiffRowsEqualEachPromptRunAlone() {
        List<PromptResult> rows = PromptBatch.run(model, prompts.subList(0, 12), PromptMeasures.logitDiff(),
                PromptBatch.Options.defaults().withChunkSize(5));
        assertEquals(24, rows.size(), "a clean and a corrupted row per prompt");
        for (PromptResult r : rows) {
            PromptRecord p = prompts.stream().filter(q -> q.id().equals(r.id())).findFirst().orElseThrow();
            String text = r.measure().equals(PromptMeasures.LOGIT_DIFF_CLEAN) ? p.clean() : p.corrupted();
            assertEquals(aloneLogitDiff(text, p.correct(), p.incorrect()), r.value(), 1e-4, r.toString());
        }
        // toy-ioi does IOI: the clean prompts prefer the indirect object, the corrupted ones the other name
        double clean = rows.stream().filter(r -> r.measure().equals(PromptMeasures.LOGIT_DIFF_CLEAN)).mapToDouble(PromptResult::value).average().orElseThrow();
        double corrupted = rows.stream().filter(r -> r.measure().equals(PromptMeasures.LOGIT_DIFF_CORRUPTED)).mapToDouble(PromptResult::value).average().orElseThrow();
        assertTrue(clean > 1.0 && corrupted < -1.0, "clean " + clean + ", corrupted " + corrupted);
    }

    @Test
    void chunkSizeChangesNothingButSpeed() {
        List<PromptResult> one = PromptBatch.run(model, prompts, PromptMeasures.logitDiff(), PromptBatch.Options.defaults().withChunkSize(1));
        List<PromptResult> seven = PromptBatch.run(model, prompts, PromptMeasures.logitDiff(), PromptBatch.Options.defaults().withChunkSize(7));
        assertEquals(one.size(), seven.size());
        for (int i = 0; i < one.size(); i++) {
            assertEquals(one.get(i).id(), seven.get(i).id());
            assertEquals(one.get(i).measure(), seven.get(i).measure());
            assertEquals(one.get(i).value(), seven.get(i).value(), 1e-4);
        }
    }

    @Test
    void aPatchingSweepPerPromptGivesOneRowPerCell() {
        List<PromptRecord> two = prompts.subList(0, 2);
        List<PromptResult> rows = PromptBatch.run(model, two, PromptMeasures.patching(Patching.Kind.RESID_PRE), PromptBatch.Options.defaults());
        int layers = model.cfg().nLayers();
        for (PromptRecord p : two) {
            List<String> clean = model.toStrTokens(p.clean());
            List<String> corrupted = model.toStrTokens(p.corrupted());
            List<PromptResult> mine = rows.stream().filter(r -> r.id().equals(p.id())).toList();
            assertEquals(layers * clean.size(), mine.size(), "a row per (layer, position)");
            for (PromptResult r : mine) {
                assertEquals("patching/resid_pre", r.measure());
                assertEquals(clean.get(r.position()), r.label(), "the label is the clean token at the position");
                if (r.layer() == 0) {
                    // at the embedding, patching the one position where the prompts differ restores the clean run (1),
                    // patching any other position changes nothing (0)
                    double expected = clean.get(r.position()).equals(corrupted.get(r.position())) ? 0.0 : 1.0;
                    assertEquals(expected, r.value(), 1e-4, r.toString());
                }
            }
        }
    }

    @Test
    void attributionRowsAreTheEstimateOfEachPair() {
        List<PromptRecord> two = prompts.subList(0, 2);
        List<PromptResult> rows = PromptBatch.run(model, two, PromptMeasures.attribution(Patching.Kind.ATTN_HEAD_OUT_ALL_POS),
                PromptBatch.Options.defaults());
        for (PromptRecord p : two) {
            Patching.Result alone = Patching.attribution(model, p.clean(), p.corrupted(),
                    Metrics.normalized(Metrics.logitDiff(p.correct(), p.incorrect())), Patching.Kind.ATTN_HEAD_OUT_ALL_POS);
            List<PromptResult> mine = rows.stream().filter(r -> r.id().equals(p.id())).toList();
            assertEquals(alone.values().length, mine.size(), "a row per (layer, head)");
            for (PromptResult r : mine) {
                assertEquals("attribution/attn_head_out_all_pos", r.measure());
                assertEquals(alone.at(r.layer(), r.head()), r.value(), 1e-6, r.toString());
            }
            assertTrue(mine.stream().anyMatch(r -> Math.abs(r.value()) > 1e-3), "the estimates are not all zero");
        }
    }

    /** Spark ships a measure to its executors by Java serialization; the copy must measure the same. */
    @Test
    void builtInMeasuresSurviveSerialization() throws Exception {
        List<PromptRecord> one = prompts.subList(0, 1);
        for (PromptMeasure m : List.of(PromptMeasures.logitDiff(), PromptMeasures.loss(),
                PromptMeasures.patching(Patching.Kind.RESID_PRE), PromptMeasures.attribution(Patching.Kind.RESID_PRE))) {
            java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
            try (java.io.ObjectOutputStream out = new java.io.ObjectOutputStream(bytes)) {
                out.writeObject(m);
            }
            PromptMeasure copy;
            try (java.io.ObjectInputStream in = new java.io.ObjectInputStream(new java.io.ByteArrayInputStream(bytes.toByteArray()))) {
                copy = (PromptMeasure) in.readObject();
            }
            List<PromptResult> want = m.measure(model, one);
            List<PromptResult> got = copy.measure(model, one);
            assertEquals(want.size(), got.size());
            for (int i = 0; i < want.size(); i++) {
                assertEquals(want.get(i).measure(), got.get(i).measure());
                assertEquals(want.get(i).value(), got.get(i).value(), 1e-9);
            }
        }
    }

    @Test
    void progressCountsPrompts() {
        List<long[]> events = new ArrayList<>();
        PromptBatch.Summary summary = PromptBatch.run(model, prompts.subList(0, 10), PromptMeasures.loss(),
                PromptBatch.Options.defaults().withChunkSize(4).withProgress((done, total, message) -> events.add(new long[] {done, total})),
                row -> { });
        assertEquals(3, summary.chunks());
        assertEquals(10, summary.rows());
        assertEquals(List.of(4L, 8L, 10L), events.stream().map(e -> e[0]).toList());
        assertTrue(events.stream().allMatch(e -> e[1] == 10));
    }

    @Test
    void aFailedRunResumesFromItsCheckpoint(@TempDir Path dir) throws IOException {
        Path checkpoint = dir.resolve("job.jsonl");
        PromptBatch.Options options = PromptBatch.Options.defaults().withChunkSize(8).withCheckpoint(checkpoint).withMeasureName("logit_diff");
        List<PromptResult> expected = PromptBatch.run(model, prompts, PromptMeasures.logitDiff(), PromptBatch.Options.defaults().withChunkSize(8));

        AtomicInteger calls = new AtomicInteger();
        PromptMeasure failsAtChunk3 = (m, chunk) -> {
            if (calls.getAndIncrement() == 2) {
                throw new IllegalStateException("injected failure");
            }
            return PromptMeasures.logitDiff().measure(m, chunk);
        };
        List<PromptResult> firstRows = new ArrayList<>();
        PromptBatch.ChunkFailedException failure = assertThrows(PromptBatch.ChunkFailedException.class,
                () -> PromptBatch.run(model, prompts, failsAtChunk3, options, firstRows::add));
        assertEquals(2, failure.chunk());
        assertTrue(failure.getMessage().contains("injected failure") && failure.getMessage().contains(checkpoint.toString()), failure.getMessage());
        assertEquals(1 + 2, Files.readAllLines(checkpoint).size(), "a header and the two finished chunks");

        // the run died while writing a line: the torn line is dropped and its chunk redone
        Files.writeString(checkpoint, "{\"chunk\":2,\"rows\":[{\"id\":", StandardCharsets.UTF_8, StandardOpenOption.APPEND);

        AtomicInteger resumedCalls = new AtomicInteger();
        PromptMeasure counting = (m, chunk) -> {
            resumedCalls.incrementAndGet();
            return PromptMeasures.logitDiff().measure(m, chunk);
        };
        List<PromptResult> rows = new ArrayList<>();
        PromptBatch.Summary summary = PromptBatch.run(model, prompts, counting, options, rows::add);
        assertEquals(2, summary.chunksResumed());
        assertEquals(3, resumedCalls.get(), "only chunks 3 to 5 of 5 run again");
        assertEquals(expected.size(), rows.size());
        for (int i = 0; i < rows.size(); i++) {
            assertEquals(expected.get(i).id(), rows.get(i).id());
            assertEquals(expected.get(i).measure(), rows.get(i).measure());
            assertEquals(expected.get(i).value(), rows.get(i).value(), 1e-4);
        }
        assertEquals(1 + 5, Files.readAllLines(checkpoint).size());

        // a finished checkpoint replays everything without running the model
        resumedCalls.set(0);
        assertEquals(5, PromptBatch.run(model, prompts, counting, options, row -> { }).chunksResumed());
        assertEquals(0, resumedCalls.get());

        // the same file for another job is refused, not silently mixed
        InvalidInputException other = assertThrows(InvalidInputException.class,
                () -> PromptBatch.run(model, prompts, counting, options.withChunkSize(4), row -> { }));
        assertTrue(other.getMessage().contains("belongs to another job"), other.getMessage());
    }

    @Test
    void badInputSaysWhatIsWrongAndTheWorkerGoesOn() {
        assertThrows(InvalidInputException.class, () -> PromptBatch.run(model, List.of(), PromptMeasures.loss(), PromptBatch.Options.defaults()));
        PromptRecord a = PromptRecord.of("same", "When John and Mary went to the shops, John gave the bag to", " Mary", " John");
        InvalidInputException twice = assertThrows(InvalidInputException.class,
                () -> PromptBatch.run(model, List.of(a, a), PromptMeasures.loss(), PromptBatch.Options.defaults()));
        assertTrue(twice.getMessage().contains("'same' appears twice"), twice.getMessage());

        PromptRecord noAnswers = new PromptRecord("no-answers", "Hello there", null, null, null);
        PromptBatch.ChunkFailedException missing = assertThrows(PromptBatch.ChunkFailedException.class,
                () -> PromptBatch.run(model, List.of(noAnswers), PromptMeasures.logitDiff(), PromptBatch.Options.defaults()));
        assertTrue(missing.getMessage().contains("'no-answers' has no answers"), missing.getMessage());

        PromptRecord twoTokens = PromptRecord.of("two-tokens", "When John and Mary went to the shops, John gave the bag to", " Mary Mary", " John");
        PromptBatch.ChunkFailedException notOne = assertThrows(PromptBatch.ChunkFailedException.class,
                () -> PromptBatch.run(model, List.of(twoTokens), PromptMeasures.logitDiff(), PromptBatch.Options.defaults()));
        assertTrue(notOne.getCause() instanceof InvalidInputException, notOne.toString());

        assertThrows(InvalidInputException.class, () -> PromptBatch.Options.defaults().withChunkSize(0));
        assertThrows(InvalidInputException.class, () -> new PromptRecord("x", "text", null, " Mary", null));
        PromptMeasure stray = (m, chunk) -> List.of(PromptResult.of("elsewhere", "x", 1));
        assertThrows(PromptBatch.ChunkFailedException.class, () -> PromptBatch.run(model, List.of(a), stray, PromptBatch.Options.defaults()));
        // the worker still answers
        assertEquals(2, PromptBatch.run(model, List.of(a), PromptMeasures.logitDiff(), PromptBatch.Options.defaults()).size() + 1);
    }
}
