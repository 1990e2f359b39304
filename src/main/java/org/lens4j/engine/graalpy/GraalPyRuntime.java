package org.lens4j.engine.graalpy;

import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.util.Enumeration;
import java.util.function.Consumer;
import java.util.jar.Attributes;
import java.util.jar.Manifest;
import org.graalvm.polyglot.Engine;

/**
 * The one polyglot {@link Engine} that every GraalPy context of this JVM shares (parsed code and
 * the JIT's work are shared between contexts), and what it knows about itself: the GraalPy and
 * Python versions, and whether Truffle compiles Python code with the Graal JIT or interprets it.
 *
 * <p>On a JDK that is not GraalVM, such as Temurin, the polyglot jars on the class path run
 * interpreted: Truffle needs JVMCI and the Graal compiler on the module path to compile. Truffle
 * would then print a long warning on every start; instead this class says it once, in one line
 * that names the fix, and turns Truffle's warning off.
 */
final class GraalPyRuntime {
    private static GraalPyRuntime shared;

    private final Engine engine;
    private final String graalPyVersion;
    private final String pythonVersion;
    private final boolean compiled;

    private GraalPyRuntime(Engine engine) {
        this.engine = engine;
        this.graalPyVersion = versionFromManifest();
        this.pythonVersion = engine.getLanguages().get("python").getVersion();
        this.compiled = !"Interpreted".equalsIgnoreCase(engine.getImplementationName());
    }

    /** The shared engine, made on first use; {@code log} hears the one line about the JIT. */
    static synchronized GraalPyRuntime shared(Consumer<String> log) {
        if (shared == null) {
            Engine engine = Engine.newBuilder("python")
                    .option("engine.WarnInterpreterOnly", "false") // replaced by the one line below
                    .build();
            shared = new GraalPyRuntime(engine);
            if (!shared.compiled && log != null) {
                log.accept("lens4j: GraalPy " + shared.graalPyVersion + " runs interpreted on this JVM ("
                        + System.getProperty("java.vm.name") + " " + System.getProperty("java.version")
                        + "): start the JVM with -XX:+UnlockExperimentalVMOptions -XX:+EnableJVMCI, the Graal compiler"
                        + " jars on --upgrade-module-path and the GraalPy jars on the module path to compile it"
                        + " (docs/ENGINES.md)");
            }
        }
        return shared;
    }

    Engine engine() {
        return engine;
    }

    /** GraalPy's release, such as "25.0.3". */
    String graalPyVersion() {
        return graalPyVersion;
    }

    /** The Python language version GraalPy implements, such as "3.12.8". */
    String pythonVersion() {
        return pythonVersion;
    }

    /** Whether the Graal JIT compiles Python code (false: Truffle's interpreter only). */
    boolean compiled() {
        return compiled;
    }

    /** "interpreted" or the Truffle runtime's name, for messages. */
    String mode() {
        return compiled ? "compiled by " + engine.getImplementationName() : "interpreted";
    }

    /**
     * The python-language jar's version, from its manifest; the polyglot API reports
     * "Development Build" for Maven builds, so {@link Engine#getVersion()} cannot say it.
     */
    private static String versionFromManifest() {
        try {
            Enumeration<URL> manifests = GraalPyRuntime.class.getClassLoader().getResources("META-INF/MANIFEST.MF");
            while (manifests.hasMoreElements()) {
                URL url = manifests.nextElement();
                try (InputStream in = url.openStream()) {
                    Attributes section = new Manifest(in).getAttributes("python-language");
                    if (section != null && section.getValue("Implementation-Version") != null) {
                        return section.getValue("Implementation-Version");
                    }
                }
            }
        } catch (IOException e) {
            // fall through: the version only decorates messages
        }
        String version = Engine.class.getPackage().getImplementationVersion();
        return version != null ? version : "(unknown version)";
    }
}
