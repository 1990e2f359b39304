package org.lens4j.engine;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import org.lens4j.Blob;

/**
 * What an op returned: a JSON value (handles appear in it as {@code {"$tensor": id, ...}} or
 * {@code {"$h": id, ...}}) and the blobs it sent, referred to in the value as {@code {"$blob": i}}.
 *
 * @param value the op's JSON result
 * @param blobs raw arrays sent beside it; views valid until the engine's next exchange
 */
public record Reply(JsonNode value, List<Blob> blobs) {
    public Reply {
        blobs = List.copyOf(blobs);
    }
}
