package org.lens4j;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.Version;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.JsonSerializer;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.module.SimpleModule;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Base64;

/**
 * The Jackson module for lens4j's types that plain Jackson does not write and read back
 * faithfully. {@link org.lens4j.analysis.AnalysisJson#MAPPER} registers it; register it on your own mapper with
 * {@code mapper.registerModule(new LensJsonModule())} (or {@code JsonMapper.builder().addModule(...)}).
 *
 * <ul>
 * <li>{@link Blob}: {@code {"dtype": "float32", "shape": [2, 3], "data": "<base64>"}}, where data
 *     is the base64 (RFC 4648, with padding) of the raw little-endian C-order bytes. Base64 rather
 *     than nested number lists because it is exact for every dtype (float16 and bfloat16 have no
 *     JSON number form that survives every reader), compact, and the same bytes that {@code .npy}
 *     and the worker use: {@code numpy.frombuffer(base64.b64decode(d), "<f4").reshape(shape)}
 *     reads it in Python (bfloat16: {@code "<u2"}, then shift into float32's top half). Reading
 *     checks the dtype, the shape and the byte count.</li>
 * <li>{@link Tensor}: refused with a clear error. A tensor is a handle to data in the worker, and
 *     JSON read back has no worker to give it to; write {@code tensor.toBlob()} instead and send
 *     it back with {@code lens.tensor(blob)}.</li>
 * </ul>
 * Every analysis result record and {@code ModelConfig} are plain records that Jackson handles
 * with no module (checked by JsonRoundTripTest).
 *
 * <pre>{@code
 * ObjectMapper mapper = JsonMapper.builder().addModule(new LensJsonModule()).build();
 * String json = mapper.writeValueAsString(Tensors.blob(new float[] {1, 2, 3}, new long[] {3}));
 * // {"dtype":"float32","shape":[3],"data":"AACAPwAAAEAAAEBA"}
 * Blob back = mapper.readValue(json, Blob.class);
 * }</pre>
 */
public final class LensJsonModule extends SimpleModule {
    public LensJsonModule() {
        super("lens4j", Version.unknownVersion());
        addSerializer(Blob.class, new BlobSerializer());
        addDeserializer(Blob.class, new BlobDeserializer());
        addSerializer(Tensor.class, new TensorSerializer());
    }

    private static final class BlobSerializer extends JsonSerializer<Blob> {
        @Override
        public void serialize(Blob blob, JsonGenerator g, SerializerProvider provider) throws IOException {
            g.writeStartObject();
            g.writeStringField("dtype", blob.dtype());
            g.writeArrayFieldStart("shape");
            for (long d : blob.shape()) {
                g.writeNumber(d);
            }
            g.writeEndArray();
            byte[] bytes = new byte[blob.nbytes()];
            blob.data().get(bytes);
            g.writeStringField("data", Base64.getEncoder().encodeToString(bytes));
            g.writeEndObject();
        }
    }

    private static final class BlobDeserializer extends JsonDeserializer<Blob> {
        @Override
        public Blob deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
            JsonNode n = p.readValueAsTree();
            if (n == null || !n.isObject()) {
                return ctxt.reportInputMismatch(Blob.class, "a Blob is a JSON object {\"dtype\", \"shape\", \"data\"}, not %s", n);
            }
            JsonNode dtype = n.get("dtype");
            JsonNode shape = n.get("shape");
            JsonNode data = n.get("data");
            if (dtype == null || !dtype.isTextual() || shape == null || !shape.isArray() || data == null || !data.isTextual()) {
                return ctxt.reportInputMismatch(Blob.class,
                        "a Blob needs \"dtype\" (a string such as \"float32\"), \"shape\" (an array of integers) and \"data\" (base64 of the little-endian bytes); got %s",
                        n.toString().length() > 200 ? n.toString().substring(0, 200) + "..." : n);
            }
            long[] dims = new long[shape.size()];
            for (int i = 0; i < dims.length; i++) {
                JsonNode d = shape.get(i);
                if (!d.canConvertToLong() || !d.isIntegralNumber() || d.asLong() < 0) {
                    return ctxt.reportInputMismatch(Blob.class, "a Blob's shape holds non-negative integers; got %s", shape);
                }
                dims[i] = d.asLong();
            }
            try {
                return new Blob(dtype.asText(), dims, ByteBuffer.wrap(Base64.getDecoder().decode(data.asText())));
            } catch (IllegalArgumentException e) {
                return ctxt.reportInputMismatch(Blob.class, "not a valid Blob: %s", e.getMessage());
            }
        }
    }

    private static final class TensorSerializer extends JsonSerializer<Tensor> {
        @Override
        public void serialize(Tensor tensor, JsonGenerator g, SerializerProvider provider) throws IOException {
            provider.reportMappingProblem("a Tensor is a handle to data in the lens4j worker and cannot be written as JSON "
                    + "(nothing could read it back into a worker); write tensor.toBlob() (a Blob) or tensor.toFloatArray() instead");
        }
    }
}
