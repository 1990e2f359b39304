package org.lens4j.data;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;
import org.lens4j.ActivationCache;
import org.lens4j.Blob;
import org.lens4j.Names;
import org.lens4j.Tensor;

/**
 * NumPy's {@code .npz} format: named arrays in one zip file, one {@code name.npy} entry each
 * (see {@link Npy} for the dtypes, and for bfloat16, which is written as float32). What
 * {@code numpy.savez} (stored) and {@code numpy.savez_compressed} (deflated) write, and what
 * {@code numpy.load(path)} reads as a dict-like of arrays by name.
 *
 * <p>Values of the map may be {@link Blob}s or {@link Tensor}s; a tensor is materialized when its
 * entry is written, one at a time, so a cache subset never needs to be in Java memory all at once.
 * Names are used as they are ({@code "blocks.0.hook_resid_pre"} becomes the entry
 * {@code blocks.0.hook_resid_pre.npy}); a name with '/' makes a folder in the zip, which numpy
 * reads back under the same name.
 *
 * <pre>{@code
 * try (Lens lens = Lens.start()) {
 *     Model model = lens.load("toy-ioi");
 *     Run run = model.runWithCache("When John and Mary went to the shops, John gave the bag to");
 *     Npz.writeCache(Path.of("resid.npz"), run.cache(), Names.only("resid_pre"));   // numpy.load("resid.npz")["blocks.0.hook_resid_pre"]
 *     Npz.write(Path.of("pair.npz"), Map.of("logits", run.logits(), "ids", Tensors.blob(new long[] {3, 5}, new long[] {2})), true);
 *     Map<String, Blob> back = Npz.read(Path.of("resid.npz"));
 * }
 * }</pre>
 */
public final class Npz {
    private Npz() {
    }

    /** Writes the arrays uncompressed (as {@code numpy.savez}), in the map's order. */
    public static void write(Path file, Map<String, ?> arrays) {
        write(file, arrays, false);
    }

    /**
     * @param arrays name to {@link Blob} or {@link Tensor}, written in the map's iteration order
     * @param compressed deflate the entries (as {@code numpy.savez_compressed}); false stores them
     */
    public static void write(Path file, Map<String, ?> arrays, boolean compressed) {
        Objects.requireNonNull(arrays, "arrays");
        arrays.forEach((name, value) -> {
            checkName(name);
            if (!(value instanceof Blob) && !(value instanceof Tensor)) {
                throw new IllegalArgumentException("the value of '" + name + "' is " + (value == null ? "null" : "a " + value.getClass().getName())
                        + "; an .npz holds Blobs and Tensors");
            }
        });
        writeEntries(file, compressed, out -> {
            for (Map.Entry<String, ?> e : arrays.entrySet()) {
                Blob blob = e.getValue() instanceof Tensor t ? t.toBlob() : (Blob) e.getValue();
                entry(out, e.getKey(), blob, compressed);
            }
        });
    }

    /**
     * The cache entries that {@code names} selects, by hook name, uncompressed.
     *
     * <pre>{@code
     * Npz.writeCache(Path.of("attn.npz"), cache, Names.only("pattern", "z"));
     * }</pre>
     */
    public static void writeCache(Path file, ActivationCache cache, Names names) {
        writeCache(file, cache, names, false);
    }

    public static void writeCache(Path file, ActivationCache cache, Names names, boolean compressed) {
        Objects.requireNonNull(cache, "cache");
        Objects.requireNonNull(names, "names");
        writeCache(file, cache, names.select(cache.keys()), compressed);
    }

    /** These cache entries (full hook names, each of which the cache must hold), in this order. */
    public static void writeCache(Path file, ActivationCache cache, List<String> names, boolean compressed) {
        Objects.requireNonNull(cache, "cache");
        Objects.requireNonNull(names, "names");
        if (names.isEmpty()) {
            throw new IllegalArgumentException("give at least one hook name; the cache holds " + cache.keys());
        }
        if (new java.util.HashSet<>(names).size() != names.size()) {
            throw new IllegalArgumentException("each hook name may be given once: " + names);
        }
        for (String n : names) {
            if (!cache.contains(n)) {
                throw new IllegalArgumentException("the cache has no entry '" + n + "'; it holds " + cache.keys());
            }
        }
        writeEntries(file, compressed, out -> {
            for (String n : names) {
                try (Tensor t = cache.get(n)) {
                    entry(out, n, t.toBlob(), compressed);
                }
            }
        });
    }

    /** Every array of the file by name (the entry name without ".npy"), in the zip's order. */
    public static Map<String, Blob> read(Path file) {
        Objects.requireNonNull(file, "file");
        Map<String, Blob> out = new LinkedHashMap<>();
        try (ZipFile zip = new ZipFile(file.toFile())) {
            Enumeration<? extends ZipEntry> entries = zip.entries();
            for (ZipEntry e : Collections.list(entries)) {
                if (e.isDirectory()) {
                    continue;
                }
                if (!e.getName().endsWith(".npy")) {
                    throw new IllegalArgumentException(file + " holds '" + e.getName() + "', which is not an .npy entry; an .npz holds only name.npy entries");
                }
                try (InputStream in = zip.getInputStream(e)) {
                    String name = e.getName().substring(0, e.getName().length() - ".npy".length());
                    try {
                        out.put(name, Npy.read(in));
                    } catch (IllegalArgumentException bad) {
                        throw new IllegalArgumentException(file + ", entry " + e.getName() + ": " + bad.getMessage(), bad);
                    }
                }
            }
        } catch (ZipException e) {
            throw new IllegalArgumentException(file + " is not an .npz (zip) file: " + e.getMessage(), e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
        return out;
    }

    private interface EntryWriter {
        void write(ZipOutputStream out) throws IOException;
    }

    private static void writeEntries(Path file, boolean compressed, EntryWriter body) {
        Objects.requireNonNull(file, "file");
        try (OutputStream raw = new BufferedOutputStream(Files.newOutputStream(file), 1 << 16);
             ZipOutputStream zip = new ZipOutputStream(raw)) {
            zip.setMethod(compressed ? ZipOutputStream.DEFLATED : ZipOutputStream.STORED);
            body.write(zip);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }

    /** A stored entry needs its size and CRC before its bytes, so the entry is built in memory first. */
    private static void entry(ZipOutputStream zip, String name, Blob blob, boolean compressed) throws IOException {
        byte[] npy = Npy.toBytes(blob);
        ZipEntry e = new ZipEntry(name + ".npy");
        if (!compressed) {
            CRC32 crc = new CRC32();
            crc.update(npy);
            e.setMethod(ZipEntry.STORED);
            e.setSize(npy.length);
            e.setCompressedSize(npy.length);
            e.setCrc(crc.getValue());
        }
        zip.putNextEntry(e);
        zip.write(npy);
        zip.closeEntry();
    }

    private static void checkName(String name) {
        if (name == null || name.isEmpty() || name.startsWith("/") || name.endsWith("/") || name.contains("\\")
                || List.of(name.split("/")).contains("..")) {
            throw new IllegalArgumentException("'" + name + "' is not a valid .npz array name: give a non-empty name without '\\', "
                    + "'..' parts or a leading or trailing '/'");
        }
    }
}
