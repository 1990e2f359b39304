package org.lens4j.architecture;

import java.io.IOException;
import java.lang.reflect.Modifier;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.lens4j.Lens;

/**
 * lens4j's compiled main classes, for the tests that check the API and the layers over what
 * was built rather than over the sources.
 *
 * <pre>{@code
 * List<Class<?>> api = CompiledClasses.publicTypes(List.of("org.lens4j", "org.lens4j.hook"));
 * }</pre>
 */
public final class CompiledClasses {
    private CompiledClasses() {
    }

    /** target/classes (or the jar) that holds lens4j's main classes. */
    public static Path mainClasses() {
        try {
            return Path.of(Lens.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (URISyntaxException e) {
            throw new AssertionError(e);
        }
    }

    /** The types of {@code packages} (not their sub-packages) that are public all the way out, loaded without initialising them. */
    public static List<Class<?>> publicTypes(List<String> packages) {
        Path root = mainClasses();
        List<Class<?>> found = new ArrayList<>();
        for (String pkg : packages) {
            try (Stream<Path> files = Files.list(root.resolve(pkg.replace('.', '/')))) {
                for (Path f : files.filter(p -> p.toString().endsWith(".class")).sorted().toList()) {
                    Class<?> c = Class.forName(pkg + "." + f.getFileName().toString().replace(".class", ""), false,
                            CompiledClasses.class.getClassLoader());
                    if (!c.isSynthetic() && publicAllTheWayOut(c)) {
                        found.add(c);
                    }
                }
            } catch (IOException | ClassNotFoundException e) {
                throw new AssertionError("cannot read the compiled package " + pkg + ": " + e, e);
            }
        }
        return found;
    }

    private static boolean publicAllTheWayOut(Class<?> c) {
        for (Class<?> k = c; k != null; k = k.getEnclosingClass()) {
            if (!Modifier.isPublic(k.getModifiers()) || k.isAnonymousClass() || k.isLocalClass()) {
                return false;
            }
        }
        return true;
    }
}
