package org.lens4j.engine.worker;

import java.io.IOException;
import java.io.InputStream;
import java.net.JarURLConnection;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.util.Enumeration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.UUID;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.stream.Stream;

/**
 * The Python sources of the bridge ({@code lens4j_bridge}, with its bundled toy models), which
 * travel inside the jar as resources under {@code lens4j/python/} and are unpacked for the
 * worker into {@code $LENS4J_HOME/bridge/<hash of the content>}: an unchanged bridge is reused,
 * a new version gets a new directory, and an unpacked directory is renamed into place whole.
 *
 * <p>For development, the system property {@code lens4j.bridge.dir} or the environment variable
 * {@code LENS4J_BRIDGE_DIR} may name a source tree's {@code python/} directory: it is used as it
 * is, so that edits to the Python take effect without a rebuild.
 *
 * <pre>{@code
 * Path dir = BundledPython.locate(PythonEnv.defaultHome());   // put dir on PYTHONPATH
 * }</pre>
 */
public final class BundledPython {
    /** Classpath folder that holds the {@code lens4j_bridge} package. */
    public static final String RESOURCE_ROOT = "lens4j/python/";
    public static final String DEV_PROPERTY = "lens4j.bridge.dir";
    public static final String DEV_ENV = "LENS4J_BRIDGE_DIR";
    static final String PACKAGE = "lens4j_bridge";

    private BundledPython() {
    }

    /**
     * The directory to put on PYTHONPATH: the development tree when {@code lens4j.bridge.dir} /
     * {@code LENS4J_BRIDGE_DIR} is set, else the bundled sources unpacked under {@code home}.
     */
    public static Path locate(Path home) {
        String dev = System.getProperty(DEV_PROPERTY);
        String source = "system property " + DEV_PROPERTY;
        if (dev == null || dev.isBlank()) {
            dev = System.getenv(DEV_ENV);
            source = "environment variable " + DEV_ENV;
        }
        if (dev != null && !dev.isBlank()) {
            Path dir = Path.of(dev).toAbsolutePath().normalize();
            if (!Files.isRegularFile(dir.resolve(PACKAGE).resolve("__init__.py"))) {
                throw new PythonEnvException("locate bridge", source + " is " + dev
                        + ", which holds no " + PACKAGE + "/__init__.py; point it at the source tree's python/ directory or unset it");
            }
            return dir;
        }
        return extract(home, BundledPython.class.getClassLoader(), RESOURCE_ROOT);
    }

    /** The bridge bundled with lens4j, unpacked under {@code home/bridge/} (ignores LENS4J_BRIDGE_DIR). */
    public static Path extract(Path home) {
        return extract(home, BundledPython.class.getClassLoader(), RESOURCE_ROOT);
    }

    /**
     * Unpacks the files under the classpath folder {@code root} (which must hold
     * {@code lens4j_bridge/__init__.py}) into {@code home/bridge/<hash>} unless already there,
     * and returns that directory.
     */
    public static Path extract(Path home, ClassLoader loader, String root) {
        SortedMap<String, byte[]> files = read(loader, root);
        Path bridges = home.toAbsolutePath().resolve("bridge");
        Path target = bridges.resolve(hash(files));
        if (Files.isDirectory(target)) {
            return target;
        }
        Path tmp = bridges.resolve(".tmp-" + target.getFileName() + "-" + UUID.randomUUID());
        try {
            for (Map.Entry<String, byte[]> file : files.entrySet()) {
                Path out = tmp.resolve(file.getKey()).normalize();
                if (!out.startsWith(tmp)) {
                    throw new PythonEnvException("extract bridge", "resource name escapes the bridge directory: " + file.getKey());
                }
                Files.createDirectories(out.getParent());
                Files.write(out, file.getValue());
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (FileSystemException e) {
                // Another process unpacked the same content first: theirs is as good as ours.
                if (!Files.isDirectory(target)) {
                    throw e;
                }
            }
            return target;
        } catch (IOException e) {
            throw new PythonEnvException("extract bridge", null, null,
                    "cannot unpack the Python bridge into " + target + ": " + e, e);
        } finally {
            try {
                PythonEnv.deleteTree(tmp);
            } catch (IOException ignored) {
                // a stray temp directory is harmless
            }
        }
    }

    /** The files under a classpath folder, by path relative to it, from a directory or a jar. */
    static SortedMap<String, byte[]> read(ClassLoader loader, String root) {
        String folder = root.endsWith("/") ? root : root + "/";
        String anchor = folder + PACKAGE + "/__init__.py";
        URL url = loader.getResource(anchor);
        if (url == null) {
            throw new PythonEnvException("extract bridge", "the Python bridge is not on the classpath (no resource "
                    + anchor + "); build with mvn package, or set " + DEV_ENV + " to the source tree's python/ directory");
        }
        try {
            return switch (url.getProtocol()) {
                case "file" -> readDirectory(Path.of(url.toURI()).getParent().getParent());
                case "jar" -> readJar((JarURLConnection) url.openConnection(), folder);
                default -> throw new PythonEnvException("extract bridge", "cannot list the classpath resource "
                        + url + " (protocol " + url.getProtocol() + "); set " + DEV_ENV + " to a python/ directory instead");
            };
        } catch (IOException | URISyntaxException e) {
            throw new PythonEnvException("extract bridge", null, null, "cannot read the Python bridge from " + url + ": " + e, e);
        }
    }

    private static SortedMap<String, byte[]> readDirectory(Path dir) throws IOException {
        SortedMap<String, byte[]> files = new TreeMap<>();
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.filter(Files::isRegularFile).toList()) {
                String name = dir.relativize(p).toString().replace('\\', '/');
                if (wanted(name)) {
                    files.put(name, Files.readAllBytes(p));
                }
            }
        }
        return files;
    }

    private static SortedMap<String, byte[]> readJar(JarURLConnection connection, String folder) throws IOException {
        connection.setUseCaches(false); // so that closing the JarFile does not close one the class loader uses
        SortedMap<String, byte[]> files = new TreeMap<>();
        try (JarFile jar = connection.getJarFile()) {
            Enumeration<JarEntry> entries = jar.entries();
            while (entries.hasMoreElements()) {
                JarEntry entry = entries.nextElement();
                String name = entry.getName();
                if (!entry.isDirectory() && name.startsWith(folder) && wanted(name.substring(folder.length()))) {
                    try (InputStream in = jar.getInputStream(entry)) {
                        files.put(name.substring(folder.length()), in.readAllBytes());
                    }
                }
            }
        }
        return files;
    }

    /** Compiled leftovers are not part of the bridge and would make the hash unstable. */
    private static boolean wanted(String name) {
        List<String> parts = List.of(name.split("/"));
        return !parts.contains("__pycache__") && !name.endsWith(".pyc") && !parts.contains(".pytest_cache");
    }

    static String hash(SortedMap<String, byte[]> files) {
        MessageDigest sha = PythonEnv.sha256();
        for (Map.Entry<String, byte[]> file : files.entrySet()) {
            sha.update((file.getKey() + "\n" + file.getValue().length + "\n").getBytes(StandardCharsets.UTF_8));
            sha.update(file.getValue());
        }
        return HexFormat.of().formatHex(sha.digest()).substring(0, 16);
    }
}
