package org.lens4j.hook;

import java.util.List;
import org.lens4j.Tensor;

/**
 * The result of {@code model.generate}: the text of each prompt (prompt and continuation,
 * special tokens dropped), the tokens [batch, prompt + new], the logits of each step
 * [batch, steps, d_vocab] when asked for, and what capture actions stored (use
 * {@link Hook#captureEach} to keep one value per step).
 *
 * <pre>{@code
 * Generation g = model.generate("When John and Mary went to the shops,", GenerateOptions.greedy(10));
 * System.out.println(g.text());
 * long[] ids = g.tokens().select(0, 0).toLongArray();
 * }</pre>
 *
 * @param text the first prompt's text (the only one for a single prompt)
 * @param texts every prompt's text
 * @param tokens prompt and generated tokens, [batch, pos]
 * @param logits null unless {@link GenerateOptions#withReturnLogits} asked for them
 * @param captures what the hooks' capture actions stored
 */
public record Generation(String text, List<String> texts, Tensor tokens, Tensor logits, Captures captures) implements AutoCloseable {
    @Override
    public void close() {
        tokens.close();
        if (logits != null) {
            logits.close();
        }
        captures.close();
    }

    /**
     * A first line that says what this is ({@code Generation: 1 prompt, tokens int64 [1, 19] cpu,
     * no logits}), then each prompt's text, the captures and the tokens' preview.
     */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("Generation: ").append(texts.size()).append(texts.size() == 1 ? " prompt" : " prompts");
        sb.append(", tokens ").append(tokens.dtype()).append(' ').append(java.util.Arrays.toString(tokens.shape()))
                .append(' ').append(tokens.device());
        sb.append(", ").append(logits == null ? "no logits" : "logits " + java.util.Arrays.toString(logits.shape()));
        for (int i = 0; i < texts.size(); i++) {
            sb.append("\ntext[").append(i).append("]: ").append(texts.get(i));
        }
        return sb.append("\ncaptures: ").append(captures).append("\ntokens: ").append(tokens).toString();
    }
}
