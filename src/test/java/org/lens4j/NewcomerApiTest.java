package org.lens4j;

import org.lens4j.internal.LensAccess;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.lens4j.analysis.Ablation;
import org.lens4j.analysis.AnswerPair;
import org.lens4j.analysis.HeadDetector;
import org.lens4j.ErrorKind;
import org.lens4j.engine.worker.WorkerEngine;
import org.lens4j.hook.GenerateOptions;
import org.lens4j.hook.Generation;

/** What TransformerLens users typed first (issue 18, items 7 and 11), on the bundled toy-ioi model. */
class NewcomerApiTest {
    private static final String PROMPT = TestLens.PROMPT;
    private static Model model;

    @BeforeAll
    static void load() {
        model = TestLens.lens().load("toy-ioi");
    }

    @Test
    void generateWithATokenCountIsGreedyAndTemperatureZeroIsGreedy() {
        try (Generation plain = model.generate(PROMPT, 5);
             Generation greedy = model.generate(PROMPT, GenerateOptions.greedy(5));
             Generation zero = model.generate(PROMPT, GenerateOptions.sampling(5, 0.0).withSeed(3))) {
            assertEquals(greedy.text(), plain.text());
            assertEquals(greedy.text(), zero.text());
            assertTrue(plain.text().startsWith(PROMPT), plain.text());
        }
        assertFalse(GenerateOptions.sampling(5, 0.0).doSample(), "temperature 0 means greedy, as in TransformerLens");
        assertFalse(GenerateOptions.greedy(10).withTemperature(0.0).doSample());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> GenerateOptions.sampling(5, -0.5));
        assertTrue(e.getMessage().contains("0 means greedy"), e.getMessage());
        assertEquals(GenerateOptions.greedy(3).withSeed(7L), GenerateOptions.greedy(3).withSeed(7));
    }

    @Test
    void toStrTokensTakesPrependBos() {
        List<String> with = model.toStrTokens(PROMPT);
        assertEquals(with, model.toStrTokens(PROMPT, true));
        assertEquals(with.subList(1, with.size()), model.toStrTokens(PROMPT, false));
    }

    @Test
    void nullsAreRefusedInJavaWithTheirName() {
        NullPointerException e = assertThrows(NullPointerException.class, () -> model.toStrTokens((String) null));
        assertEquals("prompt must not be null", e.getMessage());
        assertEquals("text must not be null", assertThrows(NullPointerException.class, () -> model.toSingleToken(null)).getMessage());
        assertEquals("tokens must not be null", assertThrows(NullPointerException.class, () -> model.toString((Tensor) null)).getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> model.logits((Input) null)).getMessage().contains("got null"));
        assertEquals("prompt must not be null", assertThrows(NullPointerException.class, () -> model.logits((String) null)).getMessage());
        assertEquals("prompts must not be null",
                assertThrows(NullPointerException.class, () -> model.runWithHooks((List<String>) null)).getMessage());
        assertEquals("tokens must not be null", assertThrows(NullPointerException.class, () -> model.generate((Tensor) null, 1)).getMessage());
        // The worker is fine afterwards.
        assertEquals(" Mary", model.toString(model.toSingleToken(" Mary")));
    }

    @Test
    void toStringDecodesIdsDirectly() {
        int mary = model.toSingleToken(" Mary");
        int john = model.toSingleToken(" John");
        assertEquals(" Mary", model.toString(mary));
        assertEquals(" Mary John", model.toString(mary, john));
        try (Tensor t = model.toTokens(PROMPT, false, null)) {
            long[] ids = t.select(0, 0).toLongArray();
            assertEquals(model.toString(t.select(0, 0)), model.toString(ids));
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> model.toString((long) model.cfg().dVocab()));
        assertTrue(e.getMessage().contains("out of range"), e.getMessage());
    }

    @Test
    void ablationSeedTakesAnInt() {
        assertEquals(Ablation.Options.defaults().withSeed(7L), Ablation.Options.defaults().withSeed(7));
        assertEquals(7L, Ablation.Options.defaults().withSeed(7).seed());
    }

    @Test
    void ablationOnAPaddedBatchAblatesEachPromptsLastRealToken() {
        List<String> clean = List.of(PROMPT, "Then, Mary and John had a long day at the park. Mary gave a drink to");
        List<String> corrupted = List.of("When John and Mary went to the shops, Mary gave the bag to",
                "Then, Mary and John had a long day at the park. John gave a drink to");
        List<AnswerPair> answers = List.of(AnswerPair.of(" Mary", " John"), AnswerPair.of(" John", " Mary"));
        int short0 = model.toStrTokens(clean.get(0)).size();
        int long1 = model.toStrTokens(clean.get(1)).size();
        assertTrue(short0 < long1, "the batch must pad: " + short0 + " and " + long1);
        Ablation.Options zero = Ablation.Options.defaults().withMethod(Ablation.Method.ZERO).withNormalize(false);
        double[][] last = Ablation.ablateHeads(model, clean, corrupted, answers, zero).scores();
        double[][] perPrompt = Ablation.ablateHeads(model, clean, corrupted, answers,
                zero.withPositionsPerPrompt(List.of(List.of(short0 - 1), List.of(long1 - 1)))).scores();
        double[][] paddedColumn = Ablation.ablateHeads(model, clean, corrupted, answers, zero.withPositions(List.of(long1 - 1))).scores();
        double largest = 0;
        for (int l = 0; l < last.length; l++) {
            assertArrayEquals(perPrompt[l], last[l], 1e-5, "layer " + l);
            for (int h = 0; h < last[l].length; h++) {
                largest = Math.max(largest, Math.abs(last[l][h] - paddedColumn[l][h]));
            }
        }
        assertTrue(largest > 1e-3, "ablating the padded column must differ for the short prompt: " + largest);
    }

    @Test
    void closingALargeCacheShrinksTheWorkerWithoutAnotherCall() throws Exception {
        assumeTrue(Files.isDirectory(Path.of("/proc/self")),
                "reads the worker's RSS from /proc: Linux only");
        long pid = ((WorkerEngine) LensAccess.engine(TestLens.lens())).pid();
        List<String> many = Collections.nCopies(300, PROMPT);
        long before = rss(pid);
        Run run = model.runWithCache(many);
        long grown = rss(pid) - before;
        assertTrue(grown > 100L << 20, "the cache must be large for this to show: the worker grew " + (grown >> 20) + " MiB");
        run.logits().close();
        run.cache().close();
        Thread.sleep(300); // the release frame is sent at close; give the worker a moment to act on it
        long freed = before + grown - rss(pid);
        System.out.printf("worker RSS +%d MiB for the cache, -%d MiB after closing it%n", grown >> 20, freed >> 20);
        assertTrue(freed > grown / 2, "closing the cache gave back " + (freed >> 20) + " of " + (grown >> 20) + " MiB");
    }

    private static long rss(long pid) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        throw new IllegalStateException("no VmRSS for " + pid);
    }

    @Test
    void inductionScoresTakeTokens() {
        List<String> prompts = List.of(PROMPT, "When Mary and John went to the store, Mary gave a drink to");
        HeadDetector.InductionScores fromText = HeadDetector.inductionScores(model, prompts);
        try (Tensor tokens = model.toTokens(prompts)) {
            HeadDetector.InductionScores fromTokens = HeadDetector.inductionScores(model, tokens);
            assertEquals(fromText.length(), fromTokens.length());
            assertArrayEquals(fromText.maxLayer(), fromTokens.maxLayer());
            assertArrayEquals(fromText.maxHead(), fromTokens.maxHead());
            for (int p = 0; p < prompts.size(); p++) {
                for (int l = 0; l < fromText.scores()[p].length; l++) {
                    assertArrayEquals(fromText.scores()[p][l], fromTokens.scores()[p][l], 0.0);
                }
            }
            assertTrue(fromTokens.prompts().get(0).contains("When John and Mary"), fromTokens.prompts().toString());
        }
    }

    @Test
    void aHandleOfAClosedLensSaysTheLensWasClosedAndACacheThatWillNotFitIsRefused() {
        // An 8 MiB cache budget stands in for a machine whose memory the run would exhaust.
        Lens lens = Lens.start(TestLens.options().withWorkerEnv(Map.of("LENS4J_CACHE_LIMIT_MB", "8")));
        Model m = lens.load("toy-ioi");
        List<String> many = Collections.nCopies(400, PROMPT);
        LensException big = assertThrows(LensException.class, () -> m.runWithCache(many));
        assertEquals(ErrorKind.OUT_OF_MEMORY, big.kind());
        assertTrue(big.getMessage().contains("400 prompts") && big.getMessage().contains("Names.only(")
                && big.getMessage().contains("PromptBatch"), big.getMessage());
        assertTrue(lens.isAlive(), "a refused run leaves the worker as it was");
        try (Run small = m.runWithCache(many, Names.of("blocks.0.hook_resid_pre"))) {
            assertEquals(400, small.logits().shape()[0]);
        }
        lens.close();
        HandleClosedException e = assertThrows(HandleClosedException.class, () -> m.toStrTokens(PROMPT));
        assertTrue(e.getMessage().contains("belonged to a Lens that was closed"), e.getMessage());
        assertFalse(e.getMessage().contains("Lens.restart()"), e.getMessage());
    }
}
