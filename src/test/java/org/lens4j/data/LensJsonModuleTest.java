package org.lens4j.data;

import org.lens4j.internal.Tensors;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.lens4j.DType;
import org.lens4j.LensJsonModule;
import org.lens4j.Tensor;
import org.lens4j.TestLens;
import org.lens4j.analysis.AnalysisJson;
import org.lens4j.Blob;

/** Blobs through Jackson with LensJsonModule (every dtype and shape, exactly), its documented form, and its errors. */
class LensJsonModuleTest {
    /** A record that holds a blob, as a user's result type might. */
    record Named(String name, Blob blob, List<Blob> more) {
    }

    @Test
    void everyDtypeAndShapeRoundTripsExactly() {
        for (DType d : DType.values()) {
            for (long[] shape : NpyTest.SHAPES.values()) {
                Blob blob = NpyTest.sample(d, shape);
                Blob back = AnalysisJson.fromJson(AnalysisJson.toJson(blob), Blob.class);
                assertEquals(d.wireName(), back.dtype());
                assertArrayEquals(shape, back.shape());
                assertEquals(Numpy.hex(blob), Numpy.hex(back), d + " " + java.util.Arrays.toString(shape));
            }
        }
        Named named = new Named("x", Tensors.blob(new int[] {1, 2}, new long[] {2}), List.of(Tensors.blob(new boolean[] {true}, new long[] {})));
        Named back = AnalysisJson.fromJson(AnalysisJson.toJson(named), Named.class);
        assertEquals(Numpy.hex(named.blob()), Numpy.hex(back.blob()));
        assertEquals("bool", back.more().get(0).dtype());
    }

    @Test
    void theDocumentedFormAndAnyMapperThatRegistersTheModule() throws Exception {
        ObjectMapper mapper = JsonMapper.builder().addModule(new LensJsonModule()).build();
        Blob b = Tensors.blob(new float[] {1, 2, 3}, new long[] {3});
        assertEquals("{\"dtype\":\"float32\",\"shape\":[3],\"data\":\"AACAPwAAAEAAAEBA\"}", mapper.writeValueAsString(b));
        assertArrayEquals(new float[] {1, 2, 3}, Tensors.floats(mapper.readValue("{\"shape\":[3],\"data\":\"AACAPwAAAEAAAEBA\",\"dtype\":\"float32\"}",
                Blob.class)));
    }

    @Test
    void badBlobJsonSaysWhatIsWrong() {
        Map<String, String> cases = Map.of(
                "{\"dtype\":\"float32\",\"shape\":[2],\"data\":\"AACAPw==\"}", "needs 8 bytes, got 4",
                "{\"dtype\":\"complex64\",\"shape\":[1],\"data\":\"AACAPw==\"}", "unknown dtype 'complex64'",
                "{\"dtype\":\"float32\",\"data\":\"AACAPw==\"}", "needs \"dtype\"",
                "{\"dtype\":\"float32\",\"shape\":[-1],\"data\":\"\"}", "non-negative integers",
                "{\"dtype\":\"float32\",\"shape\":[1.5],\"data\":\"\"}", "non-negative integers",
                "{\"dtype\":\"float32\",\"shape\":[1],\"data\":\"not base64!\"}", "not a valid Blob",
                "[1, 2]", "a Blob is a JSON object");
        cases.forEach((json, says) -> {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> AnalysisJson.fromJson(json, Blob.class), json);
            assertTrue(e.getMessage().contains(says), "'" + e.getMessage() + "' should say " + says);
        });
    }

    @Test
    void aTensorHandleIsRefusedWithAPointerToBlobs() {
        try (Tensor t = TestLens.lens().tensor(new float[] {1, 2}, 2)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> AnalysisJson.toJson(Map.of("t", t)));
            assertTrue(e.getMessage().contains("tensor.toBlob()"), e.getMessage());
            assertTrue(e.getCause() instanceof JsonMappingException);
        }
    }
}
