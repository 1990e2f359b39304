package org.lens4j.spark;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.lens4j.InvalidInputException;
import org.lens4j.LoadOptions;
import org.lens4j.Model;
import org.lens4j.analysis.Patching;
import org.lens4j.batch.PromptMeasure;
import org.lens4j.batch.PromptMeasures;
import org.lens4j.batch.PromptRecord;
import org.lens4j.batch.PromptResult;

/**
 * A ready-made Spark application over {@link LensSpark#measure}: prompts in (JSON lines, CSV or
 * Parquet with the columns of {@link LensSpark#PROMPT_SCHEMA}), built-in measures run by one
 * lens4j worker per executor, result rows ({@link LensSpark#RESULT_SCHEMA}) out as Parquet. It
 * is the assembly jar's main class, so a cluster needs no code of the user's:
 *
 * <pre>
 * spark-submit --master spark://host:7077 \
 *     --conf spark.executor.cores=1 --conf spark.executorEnv.LENS4J_HOME=/shared/lens4j \
 *     target/lens4j-0.1.0-SNAPSHOT-assembly.jar \
 *     --model toy-ioi --in prompts.jsonl --out results.parquet --measures logit_diff,patching/resid_pre
 * </pre>
 *
 * <p>Options: {@code --model} (a bundled name, hub name or a directory the executors see),
 * {@code --in}, {@code --out}, {@code --measures} (comma-separated: {@code logit_diff},
 * {@code loss}, {@code patching/<kind>}, {@code attribution/<kind>} with a kind of
 * {@link Patching.Kind} as TransformerLens spells it, e.g. {@code resid_pre}),
 * {@code --partitions} (default: twice the default parallelism), {@code --chunk} (prompts per
 * model run, default 32), {@code --device} (default: a GPU that Spark's resource profile gives the
 * task, else cpu). It prints one summary line, {@code lens4j-job rows=... prompts=... seconds=...}.
 */
public final class MeasureJob {
    private MeasureJob() {
    }

    public static void main(String[] args) {
        Options o = Options.parse(args);
        SparkSession spark = SparkSession.builder().appName("lens4j " + o.measures()).getOrCreate();
        try {
            long start = System.nanoTime();
            Dataset<Row> prompts = read(spark, o.in());
            long n = prompts.count();
            int partitions = o.partitions() > 0 ? o.partitions() : 2 * spark.sparkContext().defaultParallelism();
            LensSpark.Job job = new LensSpark.Job(o.model(), o.device() == null ? LoadOptions.defaults() : LoadOptions.defaults().withDevice(o.device()),
                    combined(o.measures()), o.chunk());
            LensSpark.measure(prompts.repartition(partitions), job).write().mode(SaveMode.Overwrite).parquet(o.out());
            double seconds = (System.nanoTime() - start) / 1e9;
            long rows = spark.read().parquet(o.out()).count();
            System.out.printf(Locale.ROOT, "lens4j-job rows=%d prompts=%d partitions=%d seconds=%.2f prompts_per_second=%.1f out=%s%n",
                    rows, n, partitions, seconds, n / seconds, o.out());
        } finally {
            spark.stop();
        }
    }

    /** The command line, checked before Spark starts. */
    record Options(String model, String in, String out, List<String> measures, int partitions, int chunk, String device) {
        static Options parse(String[] args) {
            String model = "toy-ioi", in = null, out = null, measures = "logit_diff", device = null;
            int partitions = 0, chunk = 32;
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                if (i + 1 >= args.length) {
                    throw usage("option " + a + " needs a value");
                }
                String v = args[++i];
                switch (a) {
                    case "--model" -> model = v;
                    case "--in" -> in = v;
                    case "--out" -> out = v;
                    case "--measures" -> measures = v;
                    case "--partitions" -> partitions = number(a, v);
                    case "--chunk" -> chunk = number(a, v);
                    case "--device" -> device = v;
                    default -> throw usage("unknown option " + a);
                }
            }
            if (in == null || out == null) {
                throw usage("--in and --out are required");
            }
            List<String> names = List.of(measures.split(","));
            combined(names); // unknown names fail here, on the driver, before any executor starts
            return new Options(model, in, out, names, partitions, chunk, device);
        }

        private static int number(String option, String value) {
            try {
                int n = Integer.parseInt(value);
                if (n >= 1) {
                    return n;
                }
            } catch (NumberFormatException ignored) {
                // reported below
            }
            throw usage(option + " takes a whole number >= 1, got '" + value + "'");
        }
    }

    private static InvalidInputException usage(String what) {
        return new InvalidInputException(what + "\nusage: MeasureJob --in PROMPTS (.jsonl/.json, .csv or Parquet) --out RESULTS.parquet"
                + " [--model toy-ioi] [--measures logit_diff,loss,patching/KIND,attribution/KIND] [--partitions N] [--chunk 32] [--device cpu|cuda:0]");
    }

    static Dataset<Row> read(SparkSession spark, String in) {
        String lower = in.toLowerCase(Locale.ROOT);
        if (lower.endsWith(".jsonl") || lower.endsWith(".json")) {
            return spark.read().schema(LensSpark.PROMPT_SCHEMA).json(in);
        }
        if (lower.endsWith(".csv")) {
            return spark.read().schema(LensSpark.PROMPT_SCHEMA).option("header", "true").csv(in);
        }
        return spark.read().parquet(in);
    }

    /** One measure from a name, as the {@code --measures} list spells them. */
    static PromptMeasure measure(String name) {
        String n = name.strip();
        int slash = n.indexOf('/');
        if (slash > 0) {
            String prefix = n.substring(0, slash);
            Patching.Kind kind = kind(n.substring(slash + 1), n);
            switch (prefix) {
                case "patching" -> {
                    return PromptMeasures.patching(kind);
                }
                case "attribution" -> {
                    return PromptMeasures.attribution(kind);
                }
                default -> {
                }
            }
        }
        return switch (n) {
            case "logit_diff" -> PromptMeasures.logitDiff();
            case "loss" -> PromptMeasures.loss();
            default -> throw usage("unknown measure '" + name + "'; valid: logit_diff, loss, patching/KIND, attribution/KIND");
        };
    }

    private static Patching.Kind kind(String wire, String measure) {
        for (Patching.Kind k : Patching.Kind.values()) {
            if (k.wire().equals(wire)) {
                return k;
            }
        }
        List<String> valid = new ArrayList<>();
        for (Patching.Kind k : Patching.Kind.values()) {
            valid.add(k.wire());
        }
        throw usage("unknown patching kind '" + wire + "' in '" + measure + "'; valid: " + valid);
    }

    /** The measures named, run one after another on each chunk. */
    static PromptMeasure combined(List<String> names) {
        List<PromptMeasure> all = names.stream().map(MeasureJob::measure).toList();
        return new Several(all);
    }

    private record Several(List<PromptMeasure> measures) implements PromptMeasure {
        @Override
        public List<PromptResult> measure(Model model, List<PromptRecord> chunk) {
            List<PromptResult> rows = new ArrayList<>();
            for (PromptMeasure m : measures) {
                rows.addAll(m.measure(model, chunk));
            }
            return rows;
        }
    }
}
