package org.lens4j.analysis;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.core.json.JsonWriteFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.lens4j.LensJsonModule;

/**
 * Writes analysis results as JSON and reads them back. Results are plain records, so any
 * Jackson {@code ObjectMapper} handles them; this one also keeps NaN (heads an ablation did
 * not touch) and infinities, writing them as the strings "NaN", "Infinity", "-Infinity".
 *
 * <pre>{@code
 * Ablation.HeadAblation result = Ablation.ablateHeads(model, clean, corrupted, answers, Ablation.Options.defaults());
 * AnalysisJson.write(result, Path.of("zero-ablation.json"));
 * Ablation.HeadAblation again = AnalysisJson.read(Path.of("zero-ablation.json"), Ablation.HeadAblation.class);
 * }</pre>
 */
public final class AnalysisJson {
    /**
     * The mapper used here: Jackson's defaults, NaN and infinities as strings, unknown properties
     * ignored, and {@link LensJsonModule} for blobs (and a clear error for tensor handles).
     */
    public static final ObjectMapper MAPPER = JsonMapper.builder()
            .addModule(new LensJsonModule())
            .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .enable(JsonWriteFeature.WRITE_NAN_AS_STRINGS)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .build();

    private AnalysisJson() {
    }

    public static String toJson(Object result) {
        try {
            return MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(result);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("cannot write " + result.getClass().getSimpleName() + " as JSON: " + e.getOriginalMessage(), e);
        }
    }

    public static <T> T fromJson(String json, Class<T> type) {
        try {
            return MAPPER.readValue(json, type);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("cannot read a " + type.getSimpleName() + " from this JSON: " + e.getOriginalMessage(), e);
        }
    }

    public static void write(Object result, Path file) {
        try {
            Files.writeString(file, toJson(result), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }

    public static <T> T read(Path file, Class<T> type) {
        try {
            return fromJson(Files.readString(file, StandardCharsets.UTF_8), type);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }
}
