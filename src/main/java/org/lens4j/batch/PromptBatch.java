package org.lens4j.batch;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Consumer;
import org.lens4j.InvalidInputException;
import org.lens4j.LensException;
import org.lens4j.Model;
import org.lens4j.ProgressListener;
import org.lens4j.analysis.AnalysisJson;

/**
 * Runs a {@link PromptMeasure} over a dataset of prompts, chunk by chunk, streaming the result
 * rows as each chunk finishes. With a checkpoint file, every finished chunk's rows are
 * appended to it (one JSON line each), and a later run with the same file, prompts, chunk size
 * and measure name replays those rows and goes on from the first unfinished chunk: a job that
 * failed at chunk 37 of 40 redoes 3 chunks, not 40.
 *
 * <pre>{@code
 * List<PromptRecord> prompts = ...;   // thousands of (clean, corrupted, answers) rows
 * PromptBatch.Options options = PromptBatch.Options.defaults()
 *         .withChunkSize(32)
 *         .withCheckpoint(Path.of("ioi.checkpoint.jsonl"))
 *         .withProgress((done, total, message) -> System.out.printf("%d/%d %s%n", done, total, message));
 * PromptBatch.Summary summary = PromptBatch.run(model, prompts, PromptMeasures.logitDiff(), options, row -> csv.println(row));
 * }</pre>
 */
public final class PromptBatch {
    private static final ObjectMapper JSON = AnalysisJson.MAPPER;
    private static final int CHECKPOINT_FORMAT = 1;

    private PromptBatch() {
    }

    /**
     * How to run a batch.
     *
     * @param chunkSize prompts per chunk (one model run each), >= 1; default 32
     * @param checkpoint a file to record finished chunks in and resume from, or null for none
     * @param measureName names the measure in the checkpoint, so that a checkpoint is never resumed by a different measure
     * @param progress told after each chunk (prompts done, prompts in all, "chunk i/n")
     */
    public record Options(int chunkSize, Path checkpoint, String measureName, ProgressListener progress) {
        public Options {
            if (chunkSize < 1) {
                throw new InvalidInputException("chunk size must be at least 1, got " + chunkSize);
            }
            measureName = measureName == null ? "measure" : measureName;
            progress = progress == null ? ProgressListener.NONE : progress;
        }

        public static Options defaults() {
            return new Options(32, null, null, null);
        }

        public Options withChunkSize(int value) {
            return with(b -> b.chunkSize = value);
        }

        public Options withCheckpoint(Path value) {
            return with(b -> b.checkpoint = value);
        }

        public Options withMeasureName(String value) {
            return with(b -> b.measureName = value);
        }

        public Options withProgress(ProgressListener value) {
            return with(b -> b.progress = value);
        }

        // The withers' one copy point (docs/API-CONVENTIONS.md); the canonical constructor still validates.
        private Options with(java.util.function.Consumer<Builder> change) {
            Builder b = new Builder(this);
            change.accept(b);
            return new Options(b.chunkSize, b.checkpoint, b.measureName, b.progress);
        }

        private static final class Builder {
            int chunkSize;
            Path checkpoint;
            String measureName;
            ProgressListener progress;

            Builder(Options o) {
                chunkSize = o.chunkSize; checkpoint = o.checkpoint; measureName = o.measureName; progress = o.progress;
            }
        }
    }

    /**
     * What a run did.
     *
     * @param prompts the prompts in the dataset
     * @param chunks the chunks in all
     * @param chunksResumed chunks whose rows came from the checkpoint, not from the model
     * @param rows result rows given to the sink
     * @param seconds wall time of this run
     */
    public record Summary(int prompts, int chunks, int chunksResumed, long rows, double seconds) {
    }

    /** Thrown when a chunk fails; the chunks before it are in the checkpoint (if one was given). */
    public static final class ChunkFailedException extends LensException {
        private final int chunk;

        ChunkFailedException(int chunk, int chunks, String firstId, Path checkpoint, RuntimeException cause) {
            super(cause instanceof LensException le ? le.kind() : org.lens4j.ErrorKind.CALLBACK_FAILED,
                    "chunk " + (chunk + 1) + " of " + chunks + " (from prompt '" + firstId + "') failed: " + cause.getMessage()
                            + (checkpoint == null ? "" : "; the " + chunk + " chunks before it are saved in " + checkpoint
                            + ", so running again with that checkpoint resumes here"),
                    null, null, cause);
            this.chunk = chunk;
        }

        /** The failed chunk, counted from 0. */
        public int chunk() {
            return chunk;
        }
    }

    /** Runs {@code measure} over {@code prompts} and collects the rows in dataset order. */
    public static List<PromptResult> run(Model model, List<PromptRecord> prompts, PromptMeasure measure, Options options) {
        List<PromptResult> rows = new ArrayList<>();
        run(model, prompts, measure, options, rows::add);
        return rows;
    }

    /** Runs {@code measure} over {@code prompts}, giving each chunk's rows to {@code sink} as the chunk finishes. */
    public static Summary run(Model model, List<PromptRecord> prompts, PromptMeasure measure, Options options, Consumer<PromptResult> sink) {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(measure, "measure");
        Objects.requireNonNull(options, "options");
        Objects.requireNonNull(sink, "sink");
        checkIds(prompts);
        long start = System.nanoTime();
        int size = options.chunkSize();
        int chunks = (prompts.size() + size - 1) / size;
        Checkpoint checkpoint = options.checkpoint() == null ? null
                : Checkpoint.open(options.checkpoint(), header(prompts, options));
        Map<Integer, List<PromptResult>> finished = checkpoint == null ? Map.of() : checkpoint.finished;
        long rows = 0;
        for (int c = 0; c < chunks; c++) {
            List<PromptRecord> chunk = prompts.subList(c * size, Math.min(prompts.size(), (c + 1) * size));
            List<PromptResult> out = finished.get(c);
            if (out == null) {
                try {
                    out = checkRows(measure.measure(model, chunk), chunk);
                } catch (RuntimeException e) {
                    throw new ChunkFailedException(c, chunks, chunk.get(0).id(), options.checkpoint(), e);
                }
                if (checkpoint != null) {
                    checkpoint.append(c, out);
                }
            }
            out.forEach(sink);
            rows += out.size();
            options.progress().onProgress(Math.min(prompts.size(), (long) (c + 1) * size), prompts.size(), "chunk " + (c + 1) + "/" + chunks);
        }
        return new Summary(prompts.size(), chunks, finished.size(), rows, (System.nanoTime() - start) / 1e9);
    }

    private static void checkIds(List<PromptRecord> prompts) {
        if (prompts == null || prompts.isEmpty()) {
            throw new InvalidInputException("the dataset is empty: give at least one prompt record");
        }
        Set<String> seen = new HashSet<>();
        for (PromptRecord p : prompts) {
            if (!seen.add(Objects.requireNonNull(p, "prompt record").id())) {
                throw new InvalidInputException("prompt id '" + p.id() + "' appears twice; ids must be unique, since results join on them");
            }
        }
    }

    private static List<PromptResult> checkRows(List<PromptResult> rows, List<PromptRecord> chunk) {
        if (rows == null) {
            throw new InvalidInputException("the measure returned null instead of a list of rows");
        }
        Set<String> ids = new HashSet<>();
        chunk.forEach(p -> ids.add(p.id()));
        for (PromptResult r : rows) {
            if (!ids.contains(r.id())) {
                throw new InvalidInputException("the measure returned a row for prompt '" + r.id() + "', which is not in its chunk");
            }
        }
        return List.copyOf(rows);
    }

    /** What a checkpoint must match to be resumed: the dataset's fingerprint, the chunk size and the measure. */
    private static Map<String, Object> header(List<PromptRecord> prompts, Options options) {
        Map<String, Object> header = new TreeMap<>();
        header.put("lens4j_checkpoint", CHECKPOINT_FORMAT);
        header.put("prompts", prompts.size());
        header.put("chunk_size", options.chunkSize());
        header.put("measure", options.measureName());
        header.put("dataset_sha256", fingerprint(prompts));
        return header;
    }

    private static String fingerprint(List<PromptRecord> prompts) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            for (PromptRecord p : prompts) {
                sha.update(JSON.writeValueAsBytes(p));
                sha.update((byte) '\n');
            }
            return HexFormat.of().formatHex(sha.digest());
        } catch (NoSuchAlgorithmException | JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The checkpoint file: a header line, then one line per finished chunk; a torn last line is dropped. */
    private static final class Checkpoint {
        private final Path file;
        private final Map<Integer, List<PromptResult>> finished;

        private Checkpoint(Path file, Map<Integer, List<PromptResult>> finished) {
            this.file = file;
            this.finished = finished;
        }

        private record Line(int chunk, List<PromptResult> rows) {
        }

        static Checkpoint open(Path file, Map<String, Object> header) {
            try {
                if (!Files.exists(file) || Files.size(file) == 0) {
                    Files.writeString(file, JSON.writeValueAsString(header) + "\n", StandardCharsets.UTF_8);
                    return new Checkpoint(file, Map.of());
                }
                List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
                Map<String, Object> found = JSON.readValue(lines.get(0), new TypeReference<TreeMap<String, Object>>() { });
                if (!found.equals(header)) {
                    throw new InvalidInputException("checkpoint " + file + " belongs to another job (it has " + found + ", this job is " + header
                            + "); delete it or give another checkpoint path");
                }
                Map<Integer, List<PromptResult>> finished = new TreeMap<>();
                long keep = lines.get(0).length() + 1L;
                for (String text : lines.subList(1, lines.size())) {
                    Line line;
                    try {
                        line = JSON.readValue(text, Line.class);
                    } catch (JsonProcessingException torn) {
                        break; // the run died while writing this line; it and anything after are redone
                    }
                    finished.put(line.chunk(), line.rows());
                    keep += text.getBytes(StandardCharsets.UTF_8).length + 1L;
                }
                try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
                    channel.truncate(keep);
                }
                return new Checkpoint(file, finished);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot use checkpoint " + file, e);
            }
        }

        void append(int chunk, List<PromptResult> rows) {
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
                channel.write(java.nio.ByteBuffer.wrap((JSON.writeValueAsString(new Line(chunk, rows)) + "\n").getBytes(StandardCharsets.UTF_8)));
                channel.force(false); // a chunk counts as finished only once it is on disk
            } catch (IOException e) {
                throw new UncheckedIOException("cannot append chunk " + chunk + " to checkpoint " + file, e);
            }
        }
    }
}
