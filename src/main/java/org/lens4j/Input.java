package org.lens4j;

import java.util.List;
import java.util.Objects;

/**
 * What a model runs on: one prompt, a batch of prompts, or tokens, as TransformerLens'
 * {@code model(input)} takes them. Every method that runs a model takes an {@code Input}, and
 * also a {@code String}, a {@code List<String>} or a token {@link Tensor} directly, which is
 * what JShell users type; {@code Input} is for code that passes an input along without knowing
 * which of the three it holds.
 *
 * <pre>{@code
 * Input in = Input.of("When John and Mary went to the shops, John gave the bag to");
 * Tensor logits = model.logits(in);                                  // same as model.logits("When John ...")
 * Input batch = Input.of(List.of("The cat sat", "The dog ran"));     // padded as TransformerLens pads
 * Input tokens = Input.of(model.toTokens("Hello"));                  // tokens [batch, pos]
 * }</pre>
 */
public sealed interface Input permits Input.Prompt, Input.Prompts, Input.Tokens {
    /** One prompt; TransformerLens prepends BOS unless told otherwise. */
    record Prompt(String text) implements Input {
        public Prompt {
            Objects.requireNonNull(text, "text");
        }
    }

    /** A batch of prompts, padded to one length. */
    record Prompts(List<String> texts) implements Input {
        public Prompts {
            Objects.requireNonNull(texts, "texts");
            if (texts.isEmpty()) {
                throw new IllegalArgumentException("a batch of prompts must hold at least one prompt");
            }
            for (int i = 0; i < texts.size(); i++) {
                if (texts.get(i) == null) {
                    throw new IllegalArgumentException("prompt " + i + " of the batch is null");
                }
            }
            texts = List.copyOf(texts);
        }
    }

    /** Token ids, {@code [batch, pos]} or {@code [pos]}, as {@link Model#toTokens} makes them. */
    record Tokens(Tensor tokens) implements Input {
        public Tokens {
            Objects.requireNonNull(tokens, "tokens");
        }
    }

    static Input of(String prompt) {
        return new Prompt(prompt);
    }

    static Input of(List<String> prompts) {
        return new Prompts(prompts);
    }

    static Input of(Tensor tokens) {
        return new Tokens(tokens);
    }
}
