package org.lens4j.analysis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.lens4j.analysis.Fixtures.TOL;
import static org.lens4j.analysis.Fixtures.assertClose;

import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.lens4j.InvalidInputException;
import org.lens4j.Model;

/** test_prompt: the record's numbers and its printout against TransformerLens' own test_prompt output. */
class TestPromptTest {
    private static Model model;
    private static Fixtures.Reference ref;
    private static String prompt;

    @BeforeAll
    static void setUp() {
        model = Fixtures.tiny();
        ref = Fixtures.ref();
        prompt = ref.get("/inputs/prompt").asText();
    }

    private static TestPrompt.Options opts(int topK) {
        return TestPrompt.Options.defaults().withTopK(topK).withPrependBos(true);
    }

    @Test
    void oneAnswerPrintsAsTransformerLensPrintsIt() {
        TestPrompt.Result r = TestPrompt.run(model, prompt, " Mary", opts(5));
        assertEquals(ref.get("/test_prompt/single").asText().strip(), r.toString().strip());
        assertEquals(ref.get("/test_prompt/mary/rank").asInt(), r.rank());
        assertClose(r.logit(), ref.get("/test_prompt/mary/logit").asDouble(), TOL, "logit");
        assertClose(r.probability(), ref.get("/test_prompt/mary/prob").asDouble(), TOL, "probability");
        assertEquals(5, r.steps().get(0).top().size());
        assertEquals(r, Fixtures.assertJsonRoundTrip(r));
    }

    @Test
    void severalAnswerTokensAndAlternatives() {
        TestPrompt.Result multi = TestPrompt.run(model, prompt, " Mary gave", opts(3));
        assertEquals(ref.get("/test_prompt/multi_token").asText().strip(), multi.toString().strip());
        assertEquals(2, multi.steps().size());
        TestPrompt.Result alt = TestPrompt.run(model, prompt, List.of(" Mary", " John"), opts(3));
        assertEquals(ref.get("/test_prompt/alternatives").asText().strip(), alt.toString().strip());
        assertEquals(List.of(" Mary", " John"), alt.steps().get(0).answerTokens());
        Fixtures.assertJsonRoundTrip(alt);
    }

    @Test
    void badInput() {
        assertThrows(InvalidInputException.class, () -> TestPrompt.run(model, prompt, ""));
        assertThrows(InvalidInputException.class, () -> TestPrompt.run(model, prompt, List.of(), opts(3)));
        assertThrows(InvalidInputException.class, () -> TestPrompt.Options.defaults().withTopK(-1));
        InvalidInputException tooMany = assertThrows(InvalidInputException.class, () -> TestPrompt.run(model, prompt, " Mary", opts(100000)));
        assertEquals(true, tooMany.getMessage().contains("top_k"), tooMany.getMessage());
        Fixtures.assertWorkerAnswers();
    }
}
