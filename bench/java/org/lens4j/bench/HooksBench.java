package org.lens4j.bench;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.lens4j.EngineOptions;
import org.lens4j.Lens;
import org.lens4j.Model;
import org.lens4j.Names;
import org.lens4j.Scope;
import org.lens4j.Tensor;
import org.lens4j.engine.Json;
import org.lens4j.engine.worker.PythonEnv;
import org.lens4j.hook.Hook;
import org.lens4j.hook.HookRunOptions;
import org.lens4j.internal.LensAccess;

/**
 * The hooks' numbers against native TransformerLens, in one run. bench/hooks_native.py runs
 * the same hooks written by hand in Python, in the same venv, on the same model, as a second
 * process; each case alternates one Java run and one native run, so that both see the same
 * machine load. Both sides use one torch thread (this machine is shared and loaded).
 * <ul>
 *   <li>a forward with a declarative action (seed 004's head ablation; a steering vector at
 *       12 layers) from Java vs the same Python hook run natively (ratio);</li>
 *   <li>one Java lambda hook round trip with a 1 MiB activation (median ms): a forward that
 *       stops after the embeddings with 16 Java hooks on {@code hook_embed} ([8, 128, 256]
 *       float32 = 1 MiB), minus the same forward without, over 16;</li>
 *   <li>a forward with 12 Java lambda hooks vs with 12 Python hooks (ratio).</li>
 * </ul>
 * Prints a JSON object and writes it to {@code target/bench/hooks.json}.
 *
 * <pre>
 * BENCH_CLASS=org.lens4j.bench.HooksBench ./lens4j bench
 * </pre>
 */
public final class HooksBench {
    private static final int LAYERS = 12;
    private static final int D_MODEL = 256;
    private static final int HEADS = 8;
    private static final int BATCH = 4;
    private static final int SEQ = 32;
    private static final int EMBED_BATCH = 8;
    private static final int EMBED_SEQ = 128;
    private static final int EMBED_HOOKS = 16;
    private static final int ROUNDS = 25;

    /** One benchmark case: what Java runs, the native case it is compared with (or null), runs per round. */
    private record Case(String name, String nativeName, int perRound, Runnable java) {
    }

    public static void main(String[] args) throws Exception {
        Path out = Path.of(args.length > 0 ? args[0] : "target/bench");
        Map<String, Object> results = new LinkedHashMap<>();
        EngineOptions options = EngineOptions.defaults().withDevice("cpu").withWorkerEnv(Map.of("OMP_NUM_THREADS", "1"));
        try (Lens lens = Lens.start(options)) {
            Path dir = out.resolve("models/bench-12l-256").toAbsolutePath();
            LensAccess.ops(lens).call("model.make_tiny", Map.of("out_dir", dir.toString(), "n_layers", LAYERS, "d_model", D_MODEL, "n_heads", HEADS));
            Model model = lens.load(dir);
            Random random = new Random(0);
            Tensor tokens = randomTokens(lens, model, random, BATCH, SEQ);
            Tensor embedTokens = randomTokens(lens, model, random, EMBED_BATCH, EMBED_SEQ);
            float[] steerData = new float[D_MODEL];
            for (int i = 0; i < D_MODEL; i++) {
                steerData[i] = (float) random.nextGaussian();
            }
            Tensor steer = lens.tensor(steerData, D_MODEL);
            long[] calls = new long[1];
            Hook zeroHead = Hook.at("blocks.6.attn.hook_z").positions(-1).heads(3).zero();
            Hook steer12 = Hook.at(Names.only("resid_pre")).add(steer, 1.0);
            Hook java12 = Hook.at(Names.only("resid_pre")).java((act, hook) -> {
                calls[0] += act.shape().length;
                return null;
            });
            float[] replacement = new float[EMBED_BATCH * EMBED_SEQ * D_MODEL];
            Hook[] embedNoop = repeat(Hook.at("hook_embed").java((act, hook) -> {
                calls[0] += act.shape().length;
                return null;
            }));
            Hook[] embedRead = repeat(Hook.at("hook_embed").java((act, hook) -> {
                calls[0] += act.toFloatArray().length;
                return null;
            }));
            Hook[] embedReplace = repeat(Hook.at("hook_embed").java((act, hook) -> lens.tensor(replacement, act.shape())));
            HookRunOptions embedOnly = HookRunOptions.defaults().withStopAtLayer(0);

            List<Case> cases = List.of(
                    new Case("plain", "plain", 1, () -> model.runWithHooks(tokens)),
                    new Case("zero_head", "zero_head", 1, () -> model.runWithHooks(tokens, zeroHead)),
                    new Case("steer12", "steer12", 1, () -> model.runWithHooks(tokens, steer12)),
                    new Case("java12", "noop12", 1, () -> model.runWithHooks(tokens, java12)),
                    new Case("embed_plain", "embed_plain", 3, () -> model.runWithHooks(embedTokens, embedOnly)),
                    new Case("embed_java_noop", "embed_noop", 3, () -> model.runWithHooks(embedTokens, embedOnly, embedNoop)),
                    new Case("embed_java_read", null, 1, () -> model.runWithHooks(embedTokens, embedOnly, embedRead)),
                    new Case("embed_java_replace", null, 1, () -> model.runWithHooks(embedTokens, embedOnly, embedReplace)));

            Path python = PythonEnv.ensure(lens.options().home(), lens.options().python(), s -> { }).python();
            ProcessBuilder pb = new ProcessBuilder(python.toString(), "bench/hooks_native.py", dir.toString(), "" + BATCH, "" + SEQ,
                    "" + EMBED_BATCH, "" + EMBED_SEQ, "" + EMBED_HOOKS).redirectError(ProcessBuilder.Redirect.DISCARD);
            pb.environment().put("OMP_NUM_THREADS", "1");
            Process p = pb.start();
            Map<String, List<Double>> java = new LinkedHashMap<>();
            Map<String, List<Double>> nat = new LinkedHashMap<>();
            int nativeThreads;
            try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
                 Writer cmd = p.outputWriter(StandardCharsets.UTF_8)) {
                nativeThreads = readJson(in).path("threads").asInt();
                for (Case c : cases) {
                    time(lens, c.java()); // warm-up
                }
                // Rounds over every case, so that a change of machine load hits all cases alike.
                for (int round = 0; round < ROUNDS; round++) {
                    for (Case c : cases) {
                        for (int k = 0; k < c.perRound(); k++) {
                            java.computeIfAbsent(c.name(), x -> new ArrayList<>()).add(time(lens, c.java()));
                            if (c.nativeName() != null) {
                                cmd.write(c.nativeName() + "\n");
                                cmd.flush();
                                nat.computeIfAbsent(c.nativeName(), x -> new ArrayList<>()).add(readJson(in).get("s").asDouble());
                            }
                        }
                    }
                }
                cmd.write("quit\n");
                cmd.flush();
            }
            p.waitFor();
            Map<String, Double> j = new LinkedHashMap<>();
            java.forEach((k, v) -> j.put(k, median(v)));
            Map<String, Double> n = new LinkedHashMap<>();
            nat.forEach((k, v) -> n.put(k, median(v)));

            results.put("model", "make_tiny: GPT-2 architecture, " + LAYERS + " layers, d_model " + D_MODEL + ", " + HEADS
                    + " heads, d_vocab " + model.cfg().dVocab() + ", random init, float32, cpu");
            results.put("tokens", BATCH + " x " + SEQ + " (forwards), " + EMBED_BATCH + " x " + EMBED_SEQ + " (embedding-only forwards)");
            results.put("method", ROUNDS + " rounds over all cases; in each, one Java run then one native run of a case (3 of each embedding-only"
                    + " case); medians; 1 torch thread on both sides");
            results.put("native_threads", nativeThreads);
            results.put("java_median_s", j);
            results.put("native_median_s", n);
            Map<String, Object> ratios = new LinkedHashMap<>();
            ratios.put("plain_forward_java_over_native", j.get("plain") / n.get("plain"));
            ratios.put("declarative_zero_head_java_over_python_hook", j.get("zero_head") / n.get("zero_head"));
            ratios.put("declarative_steer12_java_over_python_hooks", j.get("steer12") / n.get("steer12"));
            ratios.put("java12_lambdas_over_python12_hooks", j.get("java12") / n.get("noop12"));
            results.put("ratios_of_medians", ratios);
            Map<String, Object> paired = new LinkedHashMap<>();
            paired.put("plain_forward_java_over_native", pairedRatio(java.get("plain"), nat.get("plain")));
            paired.put("declarative_zero_head_java_over_python_hook", pairedRatio(java.get("zero_head"), nat.get("zero_head")));
            paired.put("declarative_steer12_java_over_python_hooks", pairedRatio(java.get("steer12"), nat.get("steer12")));
            paired.put("java12_lambdas_over_python12_hooks", pairedRatio(java.get("java12"), nat.get("noop12")));
            results.put("ratios_median_of_pairs", paired);
            Map<String, Object> roundTrip = new LinkedHashMap<>();
            roundTrip.put("activation_bytes", (long) EMBED_BATCH * EMBED_SEQ * D_MODEL * 4);
            roundTrip.put("java_noop_lambda_ms", 1e3 * (j.get("embed_java_noop") - j.get("embed_plain")) / EMBED_HOOKS);
            roundTrip.put("java_lambda_reading_the_1mib_ms", 1e3 * (j.get("embed_java_read") - j.get("embed_plain")) / EMBED_HOOKS);
            roundTrip.put("java_lambda_replacing_it_from_java_ms", 1e3 * (j.get("embed_java_replace") - j.get("embed_plain")) / EMBED_HOOKS);
            roundTrip.put("native_python_noop_hook_ms", 1e3 * (n.get("embed_noop") - n.get("embed_plain")) / EMBED_HOOKS);
            roundTrip.put("how", "(median of an embedding-only forward with " + EMBED_HOOKS + " hooks on hook_embed - median without) / "
                    + EMBED_HOOKS);
            results.put("lambda_round_trip", roundTrip);
            results.put("java12_extra_ms_per_hook", 1e3 * (j.get("java12") - j.get("plain") - (n.get("noop12") - n.get("plain"))) / LAYERS);
            results.put("callbacks_checksum", calls[0]);
        }
        String json = Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(results);
        System.out.println(json);
        Files.createDirectories(out);
        Files.writeString(out.resolve("hooks.json"), json);
    }

    private static Hook[] repeat(Hook hook) {
        Hook[] hooks = new Hook[EMBED_HOOKS];
        Arrays.fill(hooks, hook);
        return hooks;
    }

    private static JsonNode readJson(BufferedReader in) throws java.io.IOException {
        String line;
        while ((line = in.readLine()) != null) {
            if (line.startsWith("{")) {
                return Json.MAPPER.readTree(line);
            }
        }
        throw new java.io.IOException("hooks_native.py ended early");
    }

    private static Tensor randomTokens(Lens lens, Model model, Random random, int batch, int seq) {
        long[] ids = new long[batch * seq];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = 1 + random.nextInt(model.cfg().dVocab() - 1);
        }
        return lens.tensor(ids, batch, seq);
    }

    /** Seconds for one run; the scope frees its result and whatever its lambdas made. */
    private static double time(Lens lens, Runnable run) {
        Scope scope = lens.scope();
        try {
            long t0 = System.nanoTime();
            run.run();
            return (System.nanoTime() - t0) / 1e9;
        } finally {
            scope.close();
        }
    }

    /** The median of java[i] / native[i] over runs made back to back. */
    private static double pairedRatio(List<Double> java, List<Double> nat) {
        List<Double> r = new ArrayList<>();
        for (int i = 0; i < Math.min(java.size(), nat.size()); i++) {
            r.add(java.get(i) / nat.get(i));
        }
        return median(r);
    }

    private static double median(List<Double> values) {
        double[] v = values.stream().mapToDouble(Double::doubleValue).toArray();
        Arrays.sort(v);
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }
}
