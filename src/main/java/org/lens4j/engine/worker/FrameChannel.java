package org.lens4j.engine.worker;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import org.lens4j.Blob;
import org.lens4j.engine.Json;

/**
 * Frames over the worker's socket: {@code [u32 header length][u64 payload length][header JSON][payload]}
 * with big-endian lengths. Blobs under {@link #INLINE_LIMIT} travel in the payload, larger ones
 * through the {@link Arena}. docs/PROTOCOL.md describes every field.
 */
final class FrameChannel implements AutoCloseable {
    static final int INLINE_LIMIT = 1 << 20;
    static final int MAX_HEADER = 16 << 20;

    /** A received frame; arena blobs are views valid until the next exchange. */
    record Frame(JsonNode header, List<Blob> blobs) {
        String kind() {
            return header.path("kind").asText();
        }

        long id() {
            return header.path("id").asLong(-1);
        }
    }

    private final SocketChannel channel;
    private Arena arena;
    private final ByteBuffer prefixIn = ByteBuffer.allocateDirect(12).order(ByteOrder.BIG_ENDIAN);

    FrameChannel(SocketChannel channel) {
        this.channel = channel;
    }

    void useArena(Arena arena) {
        this.arena = arena;
    }

    void send(ObjectNode header, List<Blob> blobs) throws IOException {
        List<ByteBuffer> inline = new ArrayList<>();
        if (!blobs.isEmpty()) {
            header.set("blobs", placeBlobs(blobs, inline));
        }
        byte[] raw = Json.MAPPER.writeValueAsBytes(header);
        long payloadLength = 0;
        for (ByteBuffer b : inline) {
            payloadLength += b.remaining();
        }
        ByteBuffer[] parts = new ByteBuffer[2 + inline.size()];
        parts[0] = ByteBuffer.allocate(12).order(ByteOrder.BIG_ENDIAN).putInt(raw.length).putLong(payloadLength).flip();
        parts[1] = ByteBuffer.wrap(raw);
        for (int i = 0; i < inline.size(); i++) {
            parts[2 + i] = inline.get(i);
        }
        long remaining = 12L + raw.length + payloadLength;
        while (remaining > 0) {
            remaining -= channel.write(parts);
        }
    }

    private ArrayNode placeBlobs(List<Blob> blobs, List<ByteBuffer> inline) throws IOException {
        long arenaBytes = 0;
        for (Blob b : blobs) {
            if (goesToArena(b)) {
                arenaBytes += Arena.align(b.nbytes());
            }
        }
        if (arenaBytes > 0) {
            arena.ensure(arenaBytes);
        }
        ArrayNode descriptors = Json.MAPPER.createArrayNode();
        long inlineOffset = 0;
        long arenaOffset = 0;
        for (Blob b : blobs) {
            ObjectNode d = descriptors.addObject();
            d.put("dtype", b.dtype());
            ArrayNode shape = d.putArray("shape");
            for (long dim : b.shape()) {
                shape.add(dim);
            }
            d.put("nbytes", b.nbytes());
            if (goesToArena(b)) {
                arena.slice(arenaOffset, b.nbytes()).put(b.data());
                d.put("arena_offset", arenaOffset);
                d.put("arena_size", arena.size());
                arenaOffset += Arena.align(b.nbytes());
            } else {
                d.put("offset", inlineOffset);
                inline.add(b.data());
                inlineOffset += b.nbytes();
            }
        }
        return descriptors;
    }

    private boolean goesToArena(Blob b) {
        return arena != null && b.nbytes() >= INLINE_LIMIT && Arena.align(b.nbytes()) <= Arena.MAX_SIZE;
    }

    Frame receive() throws IOException {
        prefixIn.clear();
        readFully(prefixIn);
        prefixIn.flip();
        int headerLength = prefixIn.getInt();
        long payloadLength = prefixIn.getLong();
        if (headerLength <= 0 || headerLength > MAX_HEADER || payloadLength < 0 || payloadLength > Integer.MAX_VALUE) {
            throw new IOException("malformed frame from the worker: header " + headerLength + " bytes, payload " + payloadLength);
        }
        ByteBuffer header = ByteBuffer.allocate(headerLength);
        readFully(header);
        ByteBuffer payload = ByteBuffer.allocate((int) payloadLength).order(ByteOrder.LITTLE_ENDIAN);
        readFully(payload);
        JsonNode json = Json.MAPPER.readTree(header.array());
        return new Frame(json, blobsIn(json.path("blobs"), payload));
    }

    private List<Blob> blobsIn(JsonNode descriptors, ByteBuffer payload) throws IOException {
        if (!descriptors.isArray() || descriptors.isEmpty()) {
            return List.of();
        }
        List<Blob> blobs = new ArrayList<>(descriptors.size());
        for (JsonNode d : descriptors) {
            int nbytes = d.path("nbytes").asInt();
            long[] shape = new long[d.path("shape").size()];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = d.path("shape").get(i).asLong();
            }
            ByteBuffer data;
            if (d.has("arena_offset")) {
                arena.syncTo(d.path("arena_size").asLong());
                data = arena.slice(d.path("arena_offset").asLong(), nbytes);
            } else {
                data = payload.slice(d.path("offset").asInt(), nbytes);
            }
            blobs.add(new Blob(d.path("dtype").asText(), shape, data));
        }
        return blobs;
    }

    private void readFully(ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            if (channel.read(buffer) < 0) {
                throw new EOFException("the worker closed the connection");
            }
        }
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
