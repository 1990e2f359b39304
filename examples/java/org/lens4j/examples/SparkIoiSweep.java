package org.lens4j.examples;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.lens4j.Lens;
import org.lens4j.Model;
import org.lens4j.batch.PromptBatch;
import org.lens4j.batch.PromptMeasures;
import org.lens4j.batch.PromptRecord;
import org.lens4j.batch.PromptResult;
import org.lens4j.spark.LensSpark;

/**
 * Interpretability over a dataset with Spark: the per-prompt IOI logit difference (clean and
 * corrupted) of a few hundred generated prompts, measured by Spark in local mode with one
 * lens4j worker per executor, written as Parquet, read back, and checked against the plain
 * batch API run in this JVM. On a cluster the same job runs under spark-submit
 * (docs/data-tools.md).
 *
 * <pre>
 * ./lens4j run SparkIoiSweep [--model toy-ioi] [--prompts 300] [--partitions 4] [--threads 2] [--out out/SparkIoiSweep]
 * </pre>
 */
public final class SparkIoiSweep {
    /**
     * What the job gave.
     *
     * @param parquet the Parquet folder written
     * @param rows the rows read back from it
     * @param prompts the prompts measured
     * @param meanClean mean logit difference on the clean prompts
     * @param meanCorrupted mean on the corrupted prompts
     * @param fractionCorrect share of clean prompts whose logit difference is positive
     * @param maxAbsDiffToBatch largest |Spark - batch API| over all rows
     * @param sparkSeconds the Spark job's wall time (measure and write)
     */
    public record Result(Path parquet, List<PromptResult> rows, int prompts, double meanClean, double meanCorrupted,
                         double fractionCorrect, double maxAbsDiffToBatch, double sparkSeconds) {
    }

    private SparkIoiSweep() {
    }

    public static void main(String[] args) {
        String model = Cli.option(args, "--model", "toy-ioi");
        try (Lens lens = Lens.start(Cli.engineOptions(model))) {
            run(lens, args);
        }
    }

    public static Result run(Lens lens, String[] args) {
        String modelName = Cli.option(args, "--model", "toy-ioi");
        int n = Cli.option(args, "--prompts", 300);
        int partitions = Cli.option(args, "--partitions", 4);
        int threads = Cli.option(args, "--threads", 2);
        Path parquet = Cli.outDir(args, "SparkIoiSweep").resolve("ioi-logit-diff.parquet");
        Print.title("IOI logit difference over " + n + " generated prompts with Spark (local[" + threads + "]) on " + modelName);

        List<PromptRecord> prompts = IoiPrompts.generate(n, 2026);
        Print.line("e.g. %s -> %s (corrupted: %s)", prompts.get(0).clean(), Print.tok(prompts.get(0).correct()), prompts.get(0).corrupted());

        SparkSession spark = LensSpark.localSession("lens4j-ioi", threads);
        List<PromptResult> rows;
        double sparkSeconds;
        try {
            long start = System.nanoTime();
            Dataset<Row> results = LensSpark.measure(LensSpark.prompts(spark, prompts, partitions),
                    LensSpark.Job.of(modelName, PromptMeasures.logitDiff()).withChunkSize(32));
            results.write().mode(SaveMode.Overwrite).parquet(parquet.toString());
            sparkSeconds = (System.nanoTime() - start) / 1e9;
            rows = LensSpark.collect(spark.read().parquet(parquet.toString()).orderBy("id", "measure"));
        } finally {
            spark.stop();
        }
        Print.line("wrote %s: %d rows in %.1f s (%d partitions)", parquet, rows.size(), sparkSeconds, partitions);

        Print.step("The same prompts through the plain batch API in this JVM");
        Model model = lens.load(modelName);
        Map<String, Double> batch = new HashMap<>();
        for (PromptResult r : PromptBatch.run(model, prompts, PromptMeasures.logitDiff(), PromptBatch.Options.defaults())) {
            batch.put(r.key(), r.value());
        }
        double maxDiff = 0;
        double clean = 0;
        double corrupted = 0;
        int correct = 0;
        for (PromptResult r : rows) {
            Double expected = batch.get(r.key());
            maxDiff = Math.max(maxDiff, expected == null ? Double.POSITIVE_INFINITY : Math.abs(expected - r.value()));
            if (r.measure().equals(PromptMeasures.LOGIT_DIFF_CLEAN)) {
                clean += r.value();
                correct += r.value() > 0 ? 1 : 0;
            } else {
                corrupted += r.value();
            }
        }
        Result result = new Result(parquet, rows, n, clean / n, corrupted / n, correct / (double) n, maxDiff, sparkSeconds);
        Print.line("mean logit difference: clean %.3f, corrupted %.3f; clean prompts answered right: %.1f%%",
                result.meanClean(), result.meanCorrupted(), 100 * result.fractionCorrect());
        Print.line("rows: %d from Parquet, %d from the batch API; max |Spark - batch| = %.2e", rows.size(), batch.size(), maxDiff);
        return result;
    }
}
