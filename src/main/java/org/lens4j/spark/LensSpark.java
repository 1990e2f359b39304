package org.lens4j.spark;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.lens4j.InvalidInputException;
import org.lens4j.LoadOptions;
import org.lens4j.Model;
import org.lens4j.batch.PromptBatch;
import org.lens4j.batch.PromptMeasure;
import org.lens4j.batch.PromptRecord;
import org.lens4j.batch.PromptResult;

/**
 * Runs a {@link PromptMeasure} over a Spark Dataset of prompts: each partition is cut into
 * chunks and measured by the lens4j worker of its executor (one per executor JVM, started by
 * the first task and reused). The result is a Dataset of {@link #RESULT_SCHEMA} rows, one per
 * prompt and quantity, ready to write as Parquet or join back on {@code id}. A failed task is
 * retried by Spark like any other; its rows are recomputed, so each prompt appears once.
 *
 * <pre>{@code
 * SparkSession spark = LensSpark.localSession("ioi", 2);
 * Dataset<Row> prompts = LensSpark.prompts(spark, records, 4);
 * Dataset<Row> results = LensSpark.measure(prompts, LensSpark.Job.of("toy-ioi", PromptMeasures.logitDiff()));
 * results.write().mode(SaveMode.Overwrite).parquet("out/ioi.parquet");
 * }</pre>
 *
 * <p>On JDK 17+ the JVM that runs Spark needs Spark's module options ({@code --add-opens ...});
 * spark-submit adds them, and so do {@code ./lens4j run} and the tests (docs/data-tools.md).
 */
public final class LensSpark {
    /** The columns a prompt Dataset must have (others are ignored): id, clean, corrupted, correct, incorrect. */
    public static final StructType PROMPT_SCHEMA = new StructType()
            .add("id", DataTypes.StringType, false)
            .add("clean", DataTypes.StringType, false)
            .add("corrupted", DataTypes.StringType, true)
            .add("correct", DataTypes.StringType, true)
            .add("incorrect", DataTypes.StringType, true);

    /** The columns of the results, those of {@link PromptResult}: id, measure, layer, position, head, label, value. */
    public static final StructType RESULT_SCHEMA = new StructType()
            .add("id", DataTypes.StringType, false)
            .add("measure", DataTypes.StringType, false)
            .add("layer", DataTypes.IntegerType, true)
            .add("position", DataTypes.IntegerType, true)
            .add("head", DataTypes.IntegerType, true)
            .add("label", DataTypes.StringType, true)
            .add("value", DataTypes.DoubleType, false);

    private LensSpark() {
    }

    /**
     * What each partition runs.
     *
     * @param model a bundled model name, hub name or local directory, as {@code Lens.load} takes
     * @param load how to load it; its device is overridden by a GPU that Spark assigns the task
     * @param measure what to compute per chunk
     * @param chunkSize prompts per model run
     */
    public record Job(String model, LoadOptions load, PromptMeasure measure, int chunkSize) implements Serializable {
        public Job {
            if (model == null || model.isBlank()) {
                throw new InvalidInputException("a Spark job needs a model name or path");
            }
            Objects.requireNonNull(load, "load");
            Objects.requireNonNull(measure, "measure");
            if (chunkSize < 1) {
                throw new InvalidInputException("chunk size must be at least 1, got " + chunkSize);
            }
        }

        public static Job of(String model, PromptMeasure measure) {
            return new Job(model, LoadOptions.defaults(), measure, 32);
        }

        public Job withChunkSize(int value) {
            return new Job(model, load, measure, value);
        }

        public Job withLoad(LoadOptions value) {
            return new Job(model, value, measure, chunkSize);
        }
    }

    /**
     * A local Spark session with {@code threads} task slots that retries a failed task up to
     * three times (plain {@code local[n]} never retries), its UI off and bound to 127.0.0.1.
     */
    public static SparkSession localSession(String appName, int threads) {
        if (threads < 1) {
            throw new InvalidInputException("a local Spark session needs at least 1 thread, got " + threads);
        }
        return SparkSession.builder()
                .appName(appName)
                .master("local[" + threads + ",4]")
                .config("spark.ui.enabled", "false")
                .config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1")
                .config("spark.sql.shuffle.partitions", String.valueOf(threads))
                .getOrCreate();
    }

    /** A Dataset of {@link #PROMPT_SCHEMA} rows from prompt records, in {@code partitions} partitions. */
    public static Dataset<Row> prompts(SparkSession spark, List<PromptRecord> records, int partitions) {
        List<Row> rows = new ArrayList<>();
        for (PromptRecord p : records) {
            rows.add(RowFactory.create(p.id(), p.clean(), p.corrupted(), p.correct(), p.incorrect()));
        }
        return spark.createDataFrame(rows, PROMPT_SCHEMA).repartition(partitions);
    }

    /** Maps prompt rows to result rows, one lens4j worker per executor. */
    public static Dataset<Row> measure(Dataset<Row> prompts, Job job) {
        for (String column : PROMPT_SCHEMA.fieldNames()) {
            if (!List.of(prompts.columns()).contains(column)) {
                throw new InvalidInputException("the prompt Dataset has no column '" + column + "'; it needs "
                        + List.of(PROMPT_SCHEMA.fieldNames()) + " and has " + List.of(prompts.columns()));
            }
        }
        return prompts.mapPartitions(new MeasurePartition(job), Encoders.row(RESULT_SCHEMA));
    }

    /** Result rows as records (collects to the driver). */
    public static List<PromptResult> collect(Dataset<Row> results) {
        return results.collectAsList().stream().map(LensSpark::result).toList();
    }

    /** A result row as a record (by column name, so a read-back Parquet file's column order does not matter). */
    public static PromptResult result(Row row) {
        return new PromptResult(row.getAs("id"), row.getAs("measure"), row.getAs("layer"), row.getAs("position"), row.getAs("head"),
                row.getAs("label"), row.<Double>getAs("value"));
    }

    /** A record as a {@link #RESULT_SCHEMA} row. */
    public static Row row(PromptResult r) {
        return RowFactory.create(r.id(), r.measure(), r.layer(), r.position(), r.head(), r.label(), r.value());
    }

    /** One partition: chunks of prompt rows in, result rows out, lazily so a large partition is never held whole. */
    private record MeasurePartition(Job job) implements MapPartitionsFunction<Row, Row> {
        @Override
        public Iterator<Row> call(Iterator<Row> input) {
            Model model = ExecutorLens.model(job.model(), job.load());
            PromptBatch.Options options = PromptBatch.Options.defaults().withChunkSize(job.chunkSize());
            return new Iterator<>() {
                private Iterator<PromptResult> current = List.<PromptResult>of().iterator();

                @Override
                public boolean hasNext() {
                    while (!current.hasNext() && input.hasNext()) {
                        List<PromptRecord> chunk = new ArrayList<>();
                        while (input.hasNext() && chunk.size() < job.chunkSize()) {
                            chunk.add(record(input.next()));
                        }
                        current = PromptBatch.run(model, chunk, job.measure(), options).iterator();
                    }
                    return current.hasNext();
                }

                @Override
                public Row next() {
                    if (!hasNext()) {
                        throw new java.util.NoSuchElementException();
                    }
                    return row(current.next());
                }
            };
        }

        private static PromptRecord record(Row row) {
            return new PromptRecord(row.getAs("id"), row.getAs("clean"), row.getAs("corrupted"), row.getAs("correct"), row.getAs("incorrect"));
        }
    }
}
