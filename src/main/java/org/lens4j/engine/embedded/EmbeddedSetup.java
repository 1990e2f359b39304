package org.lens4j.engine.embedded;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.CodeSource;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.lens4j.EngineException;
import org.lens4j.ErrorKind;
import org.lens4j.engine.worker.PythonEnv;

/**
 * Finds what the embedded engine needs in a venv (JEP's native library, the venv's python and
 * site-packages) and says plainly, naming the worker engine, when a piece is missing.
 *
 * <pre>{@code
 * PythonThread.Setup s = EmbeddedSetup.locate(env.venv(), env.python(), env.bridgePath());
 * }</pre>
 */
final class EmbeddedSetup {
    static final String USE_WORKER = " The worker engine runs TransformerLens without it: LENS4J_ENGINE=worker,"
            + " or EngineOptions.withEngine(Kind.WORKER).";
    private static final Pattern VERSION = Pattern.compile("__VERSION__\\s*=\\s*['\"]([^'\"]+)['\"]");
    private static final Pattern JAR_VERSION = Pattern.compile("jep-(\\d+(?:\\.\\d+)+)\\.jar");

    private EmbeddedSetup() {
    }

    /** JEP's Java half: on the class path (the optional black.ninia:jep dependency), at {@link EmbeddedEngine#JEP_VERSION}. */
    static void requireJepJar() {
        Class<?> jep;
        try {
            jep = Class.forName("jep.SharedInterpreter", false, EmbeddedSetup.class.getClassLoader());
        } catch (ClassNotFoundException | LinkageError e) {
            throw new EngineException(ErrorKind.ENGINE_START, "the embedded engine needs JEP's jar (black.ninia:jep:"
                    + EmbeddedEngine.JEP_VERSION + ", an optional dependency of lens4j) on the class path, and it is not there."
                    + USE_WORKER, null);
        }
        String jar = jarName(jep);
        Matcher m = jar == null ? null : JAR_VERSION.matcher(jar);
        if (m != null && m.find() && !m.group(1).equals(EmbeddedEngine.JEP_VERSION)) {
            throw new EngineException(ErrorKind.ENGINE_START, "the JEP jar on the class path is " + jar + ", but lens4j's"
                    + " embedded engine is built for JEP " + EmbeddedEngine.JEP_VERSION + " (the jar and the native library in"
                    + " the venv must be the same version)." + USE_WORKER, null);
        }
    }

    private static String jarName(Class<?> c) {
        try {
            CodeSource source = c.getProtectionDomain().getCodeSource();
            return source == null ? null : Path.of(source.getLocation().toURI()).getFileName().toString();
        } catch (URISyntaxException | RuntimeException e) {
            return null;
        }
    }

    /** JEP's library, python and site-packages in {@code venv}, or the ENGINE_START failure that names what is missing. */
    static PythonThread.Setup locate(Path venv, Path python, Path bridge) {
        Path sitePackages = sitePackages(venv);
        Path jepDir = sitePackages == null ? null : sitePackages.resolve("jep");
        if (jepDir == null || !Files.isDirectory(jepDir)) {
            throw new EngineException(ErrorKind.ENGINE_START, "the embedded engine needs JEP in the venv " + venv
                    + ", and it has none: " + whyNoJep(venv) + USE_WORKER, null);
        }
        String version = installedVersion(jepDir);
        if (!EmbeddedEngine.JEP_VERSION.equals(version)) {
            throw new EngineException(ErrorKind.ENGINE_START, "the venv " + venv + " holds JEP " + version + ", but lens4j's JEP jar is "
                    + EmbeddedEngine.JEP_VERSION + "; the jar and the native library must be the same version"
                    + " (venv-spec/embedded.txt pins it)." + USE_WORKER, null);
        }
        Path libjep = Stream.of("libjep.so", "libjep.jnilib", "libjep.dylib", "jep.dll")
                .map(jepDir::resolve).filter(Files::isRegularFile).findFirst().orElse(null);
        if (libjep == null) {
            throw new EngineException(ErrorKind.ENGINE_START, "JEP in " + jepDir + " has no native library (libjep.so):"
                    + " its build did not finish." + USE_WORKER, null);
        }
        return new PythonThread.Setup(libjep.toAbsolutePath(), python.toAbsolutePath(), sitePackages.toAbsolutePath(),
                bridge.toAbsolutePath());
    }

    private static String whyNoJep(Path venv) {
        Path failed = venv.resolve(PythonEnv.EMBEDDED_FAILED);
        if (Files.isRegularFile(failed)) {
            try {
                return "building it failed when the venv was made (no C compiler, no JDK headers, or a Python without a"
                        + " shared libpython):\n" + Files.readString(failed).strip().indent(2);
            } catch (IOException e) {
                return "building it failed when the venv was made (see " + failed + ").";
            }
        }
        return "this venv was made without venv-spec/embedded.txt (by an older lens4j, or by hand)."
                + " Delete it to have it made again with JEP, or: JAVA_HOME=<a JDK> " + venv.resolve("bin").resolve("pip")
                + " install jep==" + EmbeddedEngine.JEP_VERSION + ".";
    }

    private static String installedVersion(Path jepDir) {
        try {
            Matcher m = VERSION.matcher(Files.readString(jepDir.resolve("version.py")));
            return m.find() ? m.group(1) : "(unknown version)";
        } catch (IOException e) {
            return "(unknown version: no jep/version.py)";
        }
    }

    static Path sitePackages(Path venv) {
        Path windows = venv.resolve("Lib").resolve("site-packages");
        if (Files.isDirectory(windows)) {
            return windows;
        }
        try (Stream<Path> libs = Files.list(venv.resolve("lib"))) {
            List<Path> found = libs.filter(p -> p.getFileName().toString().startsWith("python"))
                    .map(p -> p.resolve("site-packages")).filter(Files::isDirectory).toList();
            return found.isEmpty() ? null : found.get(0);
        } catch (IOException e) {
            return null;
        }
    }

    /** A failure to load libjep or start CPython in this process, said plainly. */
    static EngineException loadFailure(PythonThread.Setup setup, Throwable e) {
        String text = String.valueOf(e.getMessage());
        String piece = text.contains("libpython") ? "the shared libpython that " + setup.libjep() + " links to (a Python built"
                + " without --enable-shared has none; JEP needs it)"
                : text.contains("libjvm") ? "libjvm (JEP was built against another JDK layout)"
                : "JEP's native library " + setup.libjep();
        return new EngineException(ErrorKind.ENGINE_START, "the embedded engine could not load " + piece + ": " + text + "."
                + USE_WORKER, e);
    }
}
