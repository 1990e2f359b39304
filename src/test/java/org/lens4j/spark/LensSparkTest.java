package org.lens4j.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.spark.TaskContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lens4j.InvalidInputException;
import org.lens4j.TestLens;
import org.lens4j.analysis.Patching;
import org.lens4j.batch.PromptBatch;
import org.lens4j.batch.PromptMeasure;
import org.lens4j.batch.PromptMeasures;
import org.lens4j.batch.PromptRecord;
import org.lens4j.batch.PromptResult;
import org.lens4j.examples.IoiPrompts;
import org.lens4j.examples.SparkIoiSweep;

/**
 * The Spark integration in local mode (two task threads in this JVM, the executors' lens4j
 * worker started by the first task): Parquet rows equal the plain batch API's, a failed task
 * is retried and every prompt comes out exactly once. What cannot run here: a GPU resource
 * profile (no GPU on this machine); {@link ExecutorLens#device} is checked for the CPU case.
 */
class LensSparkTest {
    /** Attempts of the failing measure's tasks, across Spark's retries (local mode: one JVM, so a static counts them). */
    private static final AtomicInteger FAILED_ATTEMPTS = new AtomicInteger();
    private SparkSession spark;

    /** A session per test, since the example stops the session it runs in, as a program should. */
    @BeforeEach
    void start() {
        spark = LensSpark.localSession("lens4j-test", 2);
    }

    @AfterEach
    void stop() {
        spark.stop();
    }

    @Test
    void theExampleWritesParquetRowsEqualToTheBatchApi(@TempDir Path out) {
        SparkIoiSweep.Result r = SparkIoiSweep.run(TestLens.lens(),
                new String[] {"--prompts", "200", "--partitions", "4", "--out", out.toString()});
        assertEquals(400, r.rows().size(), "a clean and a corrupted row for each of 200 prompts");
        assertEquals(400, new HashSet<>(r.rows().stream().map(x -> x.key()).toList()).size(), "each row once");
        assertTrue(r.maxAbsDiffToBatch() <= 1e-4, "Spark and the batch API differ by " + r.maxAbsDiffToBatch());
        assertTrue(r.meanClean() > 1.0 && r.meanCorrupted() < -1.0, "toy-ioi does IOI: clean " + r.meanClean() + ", corrupted " + r.meanCorrupted());
        assertTrue(r.parquet().resolve("_SUCCESS").toFile().exists(), "Spark's commit marker in " + r.parquet());
    }

    @Test
    void aFailedTaskIsRetriedAndEachPromptComesOutOnce(@TempDir Path out) {
        List<PromptRecord> prompts = IoiPrompts.generate(60, 11);
        PromptMeasure failsOnceInPartition1 = (model, chunk) -> {
            TaskContext task = TaskContext.get();
            if (task.partitionId() == 1 && task.attemptNumber() == 0) {
                FAILED_ATTEMPTS.incrementAndGet();
                throw new IllegalStateException("injected failure in partition 1, attempt 0");
            }
            return PromptMeasures.logitDiff().measure(model, chunk);
        };
        Dataset<Row> results = LensSpark.measure(LensSpark.prompts(spark, prompts, 3), LensSpark.Job.of("toy-ioi", failsOnceInPartition1).withChunkSize(8));
        String parquet = out.resolve("retried.parquet").toString();
        results.write().mode(SaveMode.Overwrite).parquet(parquet);
        List<PromptResult> rows = LensSpark.collect(spark.read().parquet(parquet));

        assertTrue(FAILED_ATTEMPTS.get() >= 1, "the injected failure ran");
        Map<String, Double> expected = new HashMap<>();
        for (PromptResult r : PromptBatch.run(TestLens.lens().load("toy-ioi"), prompts, PromptMeasures.logitDiff(), PromptBatch.Options.defaults())) {
            expected.put(r.key(), r.value());
        }
        Set<String> seen = new HashSet<>();
        for (PromptResult r : rows) {
            String key = r.key();
            assertTrue(seen.add(key), key + " appears twice");
            assertEquals(expected.get(key), r.value(), 1e-4, key);
        }
        assertEquals(expected.keySet(), seen, "every prompt exactly once");
    }

    @Test
    void gridRowsKeepTheirCellColumnsThroughParquet(@TempDir Path out) {
        List<PromptRecord> prompts = IoiPrompts.generate(6, 5);
        PromptMeasure sweep = PromptMeasures.patching(Patching.Kind.RESID_PRE);
        String parquet = out.resolve("sweeps.parquet").toString();
        LensSpark.measure(LensSpark.prompts(spark, prompts, 2), LensSpark.Job.of("toy-ioi", sweep).withChunkSize(2))
                .write().mode(SaveMode.Overwrite).parquet(parquet);
        List<PromptResult> rows = LensSpark.collect(spark.read().parquet(parquet));
        Map<String, PromptResult> expected = new HashMap<>();
        for (PromptResult r : PromptBatch.run(TestLens.lens().load("toy-ioi"), prompts, sweep, PromptBatch.Options.defaults())) {
            expected.put(r.key(), r);
        }
        assertEquals(expected.size(), rows.size());
        for (PromptResult r : rows) {
            PromptResult e = expected.get(r.key());
            assertTrue(e != null, "unexpected row " + r);
            assertEquals(e.value(), r.value(), 1e-4, r.key());
            assertEquals(null, r.head(), "a resid_pre sweep has no head column");
        }
    }

    @Test
    void aDatasetWithoutThePromptColumnsIsRefused() {
        Dataset<Row> wrong = spark.range(3).toDF("id");
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> LensSpark.measure(wrong, LensSpark.Job.of("toy-ioi", PromptMeasures.logitDiff())));
        assertTrue(e.getMessage().contains("no column 'clean'"), e.getMessage());
        assertThrows(InvalidInputException.class, () -> LensSpark.Job.of(" ", PromptMeasures.logitDiff()));
        assertThrows(InvalidInputException.class, () -> LensSpark.Job.of("toy-ioi", PromptMeasures.logitDiff()).withChunkSize(0));
    }

    @Test
    void withoutAGpuResourceTheDeviceIsTheRequestedOneOrTheCpu() {
        assertEquals("cpu", ExecutorLens.device(null, null));
        assertEquals("cuda:1", ExecutorLens.device(null, "cuda:1"));
    }
}
