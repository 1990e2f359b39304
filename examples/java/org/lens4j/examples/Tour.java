package org.lens4j.examples;

import java.util.List;
import org.lens4j.ActivationCache;
import org.lens4j.Lens;
import org.lens4j.Model;
import org.lens4j.Names;
import org.lens4j.Run;
import org.lens4j.Scope;
import org.lens4j.Tensor;

/**
 * A first look: load a model, tokenize, run with a cache, read the top next tokens.
 *
 * <pre>
 * ./lens4j run Tour [--model toy-ioi]
 * </pre>
 */
public final class Tour {
    @SuppressWarnings("try") // the scope is used for its close()
    public static void main(String[] args) {
        String modelName = Cli.option(args, "--model", "toy-ioi");
        String prompt = Cli.option(args, "--prompt", "When John and Mary went to the shops, John gave the bag to");
        try (Lens lens = Lens.start(Cli.engineOptions(modelName)); Scope scope = lens.scope()) {
            System.out.println(lens);
            Model model = lens.load(modelName);
            System.out.println(model);
            System.out.println(model.cfg());

            List<String> tokens = model.toStrTokens(prompt);
            System.out.println("tokens: " + tokens);

            Run run = model.runWithCache(prompt, Names.only("resid_pre", "pattern", "z"));
            Tensor last = run.logits().select(0, 0).select(0, -1);
            Tensor.TopK top = last.softmax(-1).topk(5);
            long[] ids = top.indices().toLongArray();
            float[] probs = top.values().toFloatArray();
            System.out.println("top next tokens:");
            for (int i = 0; i < ids.length; i++) {
                System.out.printf("  %-12s %.3f%n", "'" + model.toString(lens.tensor(new long[] {ids[i]}, 1)) + "'", probs[i]);
            }
            ActivationCache cache = run.cache();
            System.out.println(cache);
        }
    }
}
