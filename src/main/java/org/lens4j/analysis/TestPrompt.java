package org.lens4j.analysis;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import org.lens4j.InvalidInputException;
import org.lens4j.Model;
import org.lens4j.internal.Args;
import org.lens4j.internal.LensAccess;

/**
 * TransformerLens' {@code utils.test_prompt} as data: how the model ranks an answer after a
 * prompt, with the top tokens. {@link Result#toString()} prints what test_prompt prints.
 *
 * <pre>{@code
 * TestPrompt.Result r = TestPrompt.run(model, "After John and Mary went to the store, John gave a bottle of milk to", " Mary");
 * System.out.println(r);                      // Tokenized prompt: [...] / Rank: 0  Logit: 18.09 Prob: 70.07% Token: | Mary| / Top 0th token ...
 * int rank = r.rank();                        // the answer's rank (0 = top) at its first token
 * double p = r.probability();
 * }</pre>
 */
public final class TestPrompt {
    private TestPrompt() {
    }

    /**
     * test_prompt's options; {@link #defaults()} are TransformerLens' defaults.
     *
     * <pre>{@code
     * TestPrompt.Options o = TestPrompt.Options.defaults().withTopK(5).withPrependBos(true);
     * }</pre>
     *
     * <pre>{@code
     * String best = TestPrompt.run(model, prompt, " Mary").steps().get(0).top().get(0).token();
     * }</pre>
     *
     * @param topK how many top tokens to list per step
     * @param prependSpaceToAnswer put a space before answers that lack one (test_prompt's default)
     * @param prependBos null: the model's default
     */
    public record Options(int topK, boolean prependSpaceToAnswer, Boolean prependBos) {
        public Options {
            if (topK < 0) {
                throw new InvalidInputException("topK must be >= 0; got " + topK);
            }
        }

        public static Options defaults() {
            return new Options(10, true, null);
        }

        public Options withTopK(int value) {
            return with(b -> b.topK = value);
        }

        public Options withPrependSpaceToAnswer(boolean value) {
            return with(b -> b.prependSpaceToAnswer = value);
        }

        public Options withPrependBos(Boolean value) {
            return with(b -> b.prependBos = value);
        }

        // The withers' one copy point (docs/API-CONVENTIONS.md); the canonical constructor still validates.
        private Options with(java.util.function.Consumer<Builder> change) {
            Builder b = new Builder(this);
            change.accept(b);
            return new Options(b.topK, b.prependSpaceToAnswer, b.prependBos);
        }

        private static final class Builder {
            int topK;
            boolean prependSpaceToAnswer;
            Boolean prependBos;

            Builder(Options o) {
                topK = o.topK; prependSpaceToAnswer = o.prependSpaceToAnswer; prependBos = o.prependBos;
            }
        }
    }

    /** One of the top tokens at a step. */
    public record TopToken(int id, String token, double logit, double prob) {
    }

    /**
     * One predicted token: the position whose logits predict it, and per answer its id, text,
     * rank (0 = top), logit and probability; then the top tokens.
     *
     * <pre>{@code
     * TestPrompt.Step first = TestPrompt.run(model, prompt, " Mary gave").steps().get(0);
     * }</pre>
     */
    public record Step(int position, List<Integer> answerTokenIds, List<String> answerTokens, List<Integer> ranks,
                       List<Double> logits, List<Double> probs, List<TopToken> top) {
    }

    /**
     * What test_prompt computes.
     *
     * <pre>{@code
     * TestPrompt.Result r = TestPrompt.run(model, prompt, " Mary"); System.out.println(r.rank() + " " + r.probability());
     * }</pre>
     *
     * @param promptTokens the prompt's token strings
     * @param answers the answers after the space was prepended
     * @param answerTokens each answer's token strings
     * @param steps one per answer token (one answer), or one step comparing the answers' first tokens
     */
    public record Result(List<String> promptTokens, List<String> answers, List<List<String>> answerTokens, List<Step> steps) {
        /** The first answer's rank at its first token (0 = top). */
        public int rank() {
            return steps.get(0).ranks().get(0);
        }

        /** The first answer's logit at its first token. */
        public double logit() {
            return steps.get(0).logits().get(0);
        }

        /** The first answer's probability at its first token. */
        public double probability() {
            return steps.get(0).probs().get(0);
        }

        /** test_prompt's printout (without rich's bold markup). */
        @Override
        public String toString() {
            boolean multiple = answers.size() > 1;
            StringBuilder sb = new StringBuilder();
            sb.append("Tokenized prompt: ").append(PyRepr.list(promptTokens)).append('\n');
            if (multiple) {
                sb.append("Tokenized answers: ").append(PyRepr.nested(answerTokens)).append('\n');
            } else {
                sb.append("Tokenized answer: ").append(PyRepr.list(answerTokens.get(0))).append('\n');
            }
            List<String> rankLines = new ArrayList<>();
            for (Step step : steps) {
                sb.append("Performance on answer token").append(multiple ? "s" : "").append(":\n");
                for (int i = 0; i < step.ranks().size(); i++) {
                    sb.append(String.format(Locale.ROOT, "Rank: %-8d Logit: %5s Prob: %6s Token: |%s|\n", step.ranks().get(i),
                            PyRepr.fixed(step.logits().get(i), 2), percent(step.probs().get(i)), step.answerTokens().get(i)));
                }
                for (int i = 0; i < step.top().size(); i++) {
                    TopToken t = step.top().get(i);
                    sb.append(String.format(Locale.ROOT, "Top %dth token. Logit: %5s Prob: %6s Token: |%s|\n", i,
                            PyRepr.fixed(t.logit(), 2), percent(t.prob()), t.token()));
                }
                List<String> pairs = new ArrayList<>();
                for (int i = 0; i < step.ranks().size(); i++) {
                    pairs.add("(" + PyRepr.string(step.answerTokens().get(i)) + ", " + step.ranks().get(i) + ")");
                }
                rankLines.add(multiple ? "[" + String.join(", ", pairs) + "]" : pairs.get(0));
            }
            sb.append("Ranks of the answer tokens: [").append(String.join(", ", rankLines)).append(']');
            return sb.toString();
        }

        private static String percent(double p) {
            return PyRepr.fixed(p * 100, 2) + "%";
        }
    }

    /** One answer (possibly several tokens: one step per token), with the default options. */
    public static Result run(Model model, String prompt, String answer) {
        return run(model, prompt, List.of(Objects.requireNonNull(answer, "answer")), Options.defaults());
    }

    public static Result run(Model model, String prompt, String answer, Options options) {
        return run(model, prompt, List.of(Objects.requireNonNull(answer, "answer")), options);
    }

    /** Several answers: their first tokens compared as alternative next tokens (one step). */
    public static Result run(Model model, String prompt, List<String> answers, Options options) {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(options, "options");
        if (prompt == null) {
            throw new InvalidInputException("the prompt is null");
        }
        if (answers == null || answers.isEmpty() || answers.stream().anyMatch(a -> a == null || a.isEmpty())) {
            throw new InvalidInputException("give one or more non-empty answers; got " + answers);
        }
        Object answer = answers.size() == 1 ? answers.get(0) : answers;
        JsonNode v = LensAccess.ops(model.lens()).call("analysis.test_prompt", Args.of("model", model.ref(), "prompt", prompt, "answer", answer,
                "top_k", options.topK(), "prepend_space_to_answer", options.prependSpaceToAnswer(),
                "prepend_bos", options.prependBos()).map()).value();
        List<Step> steps = new ArrayList<>();
        for (JsonNode s : v.get("steps")) {
            List<TopToken> top = new ArrayList<>();
            int[] ids = Wire.ints(s.get("top_token_ids"));
            for (int i = 0; i < ids.length; i++) {
                top.add(new TopToken(ids[i], s.get("top_tokens").get(i).asText(), Wire.number(s.get("top_logits").get(i)),
                        Wire.number(s.get("top_probs").get(i))));
            }
            steps.add(new Step(s.get("position").asInt(), Wire.intList(s.get("answer_token_ids")), Wire.strings(s.get("answer_tokens")),
                    Wire.intList(s.get("ranks")), boxed(Wire.doubles(s.get("logits"))), boxed(Wire.doubles(s.get("probs"))),
                    List.copyOf(top)));
        }
        return new Result(Wire.strings(v.get("prompt_tokens")), Wire.strings(v.get("answers")), Wire.strings2(v.get("answer_tokens")),
                List.copyOf(steps));
    }

    private static List<Double> boxed(double[] values) {
        List<Double> out = new ArrayList<>(values.length);
        for (double d : values) {
            out.add(d);
        }
        return List.copyOf(out);
    }
}
