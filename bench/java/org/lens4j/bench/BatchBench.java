package org.lens4j.bench;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.SparkSession;
import org.lens4j.Lens;
import org.lens4j.Model;
import org.lens4j.batch.PromptBatch;
import org.lens4j.batch.PromptMeasures;
import org.lens4j.batch.PromptRecord;
import org.lens4j.batch.PromptResult;
import org.lens4j.engine.Json;
import org.lens4j.engine.worker.PythonEnv;
import org.lens4j.examples.IoiPrompts;
import org.lens4j.spark.LensSpark;

/**
 * The per-prompt IOI logit difference over 512 generated prompts on toy-ioi, chunks of 32:
 * lens4j's batch API, the same through Spark in local[2] mode, and the same computed directly
 * in Python with TransformerLens ({@code bench/batch_native.py}), in one run, with the largest
 * difference between the values.
 *
 * <pre>
 * ./lens4j bench BatchBench [OUT_DIR]
 * </pre>
 */
public final class BatchBench {
    private BatchBench() {
    }

    public static void main(String[] args) throws Exception {
        Path out = Path.of(args.length > 0 ? args[0] : "target/bench");
        Files.createDirectories(out);
        int n = 512;
        int chunk = 32;
        List<PromptRecord> prompts = IoiPrompts.generate(n, 99);
        Map<String, Object> results = new LinkedHashMap<>();
        try (Lens lens = Lens.start()) {
            Model model = lens.load("toy-ioi");
            PromptBatch.Options options = PromptBatch.Options.defaults().withChunkSize(chunk);
            PromptBatch.run(model, prompts.subList(0, chunk), PromptMeasures.logitDiff(), options); // warm-up
            long t0 = System.nanoTime();
            List<PromptResult> rows = PromptBatch.run(model, prompts, PromptMeasures.logitDiff(), options);
            double batchSeconds = (System.nanoTime() - t0) / 1e9;

            Path promptsJson = out.resolve("batch-prompts.json");
            Json.MAPPER.writeValue(promptsJson.toFile(), prompts);
            String modelDir = Path.of("python/lens4j_bridge/toy/models/toy-ioi").toAbsolutePath().toString(); // run from the project root
            Path python = PythonEnv.ensure(lens.options().home(), lens.options().python(), s -> { }).python();
            Process p = new ProcessBuilder(python.toString(), "bench/batch_native.py", modelDir, promptsJson.toString(), "" + chunk)
                    .redirectError(ProcessBuilder.Redirect.DISCARD).start();
            String line = new String(p.getInputStream().readAllBytes()).trim();
            p.waitFor();
            JsonNode nativeRun = Json.MAPPER.readTree(line.substring(line.lastIndexOf('\n') + 1));
            double maxDiff = 0;
            for (PromptResult r : rows) {
                int column = r.measure().equals(PromptMeasures.LOGIT_DIFF_CLEAN) ? 0 : 1;
                maxDiff = Math.max(maxDiff, Math.abs(nativeRun.get("values").get(r.id()).get(column).asDouble() - r.value()));
            }

            SparkSession spark = LensSpark.localSession("batch-bench", 2);
            double sparkSeconds;
            try {
                LensSpark.Job job = LensSpark.Job.of("toy-ioi", PromptMeasures.logitDiff()).withChunkSize(chunk);
                LensSpark.collect(LensSpark.measure(LensSpark.prompts(spark, prompts.subList(0, 64), 2), job)); // starts the executor's worker
                long t1 = System.nanoTime();
                LensSpark.collect(LensSpark.measure(LensSpark.prompts(spark, prompts, 2), job));
                sparkSeconds = (System.nanoTime() - t1) / 1e9;
            } finally {
                spark.stop();
            }
            double nativeSeconds = nativeRun.get("seconds").asDouble();
            results.put("prompts", n);
            results.put("chunk", chunk);
            results.put("native_seconds", nativeSeconds);
            results.put("batch_seconds", batchSeconds);
            results.put("batch_over_native", batchSeconds / nativeSeconds);
            results.put("spark_local2_seconds", sparkSeconds);
            results.put("spark_over_native", sparkSeconds / nativeSeconds);
            results.put("max_abs_diff_batch_vs_native", maxDiff);
        }
        String json = Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(results);
        System.out.println(json);
        Files.writeString(out.resolve("batch.json"), json);
    }
}
