package org.lens4j.analysis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Executable;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.lens4j.Input;
import org.lens4j.Tensor;
import org.lens4j.architecture.CompiledClasses;

/**
 * The public API of {@code org.lens4j.analysis}, {@code org.lens4j.batch} and
 * {@code org.lens4j.viz} says what it takes: no public method or constructor has a parameter
 * typed {@code Object} (or {@code Object[]}), so an input is an {@link Input} (or a
 * {@code String}, {@code List<String>}, {@code Tensor}), never "anything". Checked by
 * reflection over the compiled classes; {@code equals(Object)} is Object's own contract. The
 * few that remain are listed in {@link #ALLOWED} with the reason, and each listed one must
 * still exist, so the list shrinks as they are typed.
 *
 * <pre>{@code
 * mvn -B -q -o test -Dtest=TypedParametersTest -Dsurefire.failIfNoSpecifiedTests=false
 * }</pre>
 */
class TypedParametersTest {
    private static final List<String> PACKAGES = List.of("org.lens4j.analysis", "org.lens4j.batch", "org.lens4j.viz");

    private static final String TOKEN = "a token: a one-token text (String) or an id (Integer), as TransformerLens takes tokens; "
            + "not an input, and no Token type exists yet";

    /** Methods that still take an Object, with the reason; a trailing {@code *} stands for any further parameters. */
    private static final Map<String, String> ALLOWED = Map.ofEntries(
            Map.entry("org.lens4j.analysis.AnswerPair(Object, Object)", TOKEN),
            Map.entry("org.lens4j.analysis.Metrics.probability(Object)", TOKEN),
            Map.entry("org.lens4j.analysis.Metrics.logit(Object)", TOKEN),
            Map.entry("org.lens4j.analysis.Metrics.rank(Object)", TOKEN),
            Map.entry("org.lens4j.analysis.Metrics.probability(Model, Tensor, Object)", TOKEN),
            Map.entry("org.lens4j.analysis.Metrics.rank(Model, Tensor, Object)", TOKEN),
            Map.entry("org.lens4j.analysis.LogitLens$Options(Source, List, List, int, Object, boolean, boolean, Boolean)",
                    "target: " + TOKEN),
            Map.entry("org.lens4j.analysis.LogitLens$Options(Source, List, List, int, Object, boolean, boolean, Boolean, boolean)",
                    "target: " + TOKEN),
            Map.entry("org.lens4j.analysis.DirectLogitAttribution.logitAttrs(ActivationCache, Tensor, Object, Object, *)",
                    "TransformerLens' logit_attrs tokens: a token, a list of them (one per prompt) or a token tensor"),
            Map.entry("org.lens4j.analysis.AnalysisJson.toJson(Object)", "any result record, as Jackson writes it"),
            Map.entry("org.lens4j.analysis.AnalysisJson.write(Object, Path)", "any result record, as Jackson writes it"));

    @Test
    void noPublicMethodTakesAnObjectExceptTheListedOnes() throws Exception {
        List<Class<?>> classes = CompiledClasses.publicTypes(PACKAGES);
        assertTrue(classes.size() > 30 && classes.contains(Patching.class) && classes.contains(Metric.class),
                "found too few public classes to check: " + classes);
        Set<String> takingObject = new TreeSet<>();
        for (Class<?> c : classes) {
            List<Executable> members = new ArrayList<>(Arrays.asList(c.getDeclaredMethods()));
            members.addAll(Arrays.asList(c.getDeclaredConstructors()));
            for (Executable e : members) {
                if (!Modifier.isPublic(e.getModifiers()) || e.isSynthetic() || (e instanceof Method m && (m.isBridge() || isEquals(m)))) {
                    continue;
                }
                if (Arrays.stream(e.getParameterTypes()).anyMatch(t -> t == Object.class || t == Object[].class)) {
                    takingObject.add(signature(c, e));
                }
            }
        }
        Set<String> unlisted = new TreeSet<>(takingObject);
        unlisted.removeIf(sig -> ALLOWED.keySet().stream().anyMatch(allowed -> matches(allowed, sig)));
        assertEquals(Set.of(), unlisted, "public methods that take an Object: type them (an input is an org.lens4j.Input, with "
                + "String / List<String> / Tensor overloads), or list them in ALLOWED with the reason");
        Set<String> gone = new TreeSet<>(ALLOWED.keySet());
        gone.removeIf(allowed -> takingObject.stream().anyMatch(sig -> matches(allowed, sig)));
        assertEquals(Set.of(), gone, "listed in ALLOWED but no longer taking an Object: remove them from the list");
    }

    @Test
    void everyMethodTakingAnInputAlsoTakesTheThreeFormsUsersType() throws Exception {
        int checked = 0;
        for (Class<?> c : CompiledClasses.publicTypes(PACKAGES)) {
            for (Method m : c.getDeclaredMethods()) {
                Class<?>[] types = m.getParameterTypes();
                if (!Modifier.isPublic(m.getModifiers()) || !Arrays.asList(types).contains(Input.class)) {
                    continue;
                }
                for (Class<?> form : List.of(String.class, List.class, Tensor.class)) {
                    Class<?>[] overload = Arrays.stream(types).map(t -> t == Input.class ? form : t).toArray(Class<?>[]::new);
                    Method twin = c.getDeclaredMethod(m.getName(), overload);
                    assertTrue(Modifier.isPublic(twin.getModifiers()), signature(c, twin) + " is not public");
                }
                checked++;
            }
        }
        // Patching 3, PathPatching 2, Ablation 4, HeadDetector 3, LogitLens 1, SteeringVector 1, Metric 2, Metrics 1
        assertTrue(checked >= 17, "only " + checked + " public methods take an Input");
    }

    private static boolean matches(String allowed, String signature) {
        return allowed.endsWith(", *)") ? signature.startsWith(allowed.substring(0, allowed.length() - 2)) : allowed.equals(signature);
    }

    private static boolean isEquals(Method m) {
        return m.getName().equals("equals") && m.getParameterCount() == 1;
    }

    private static String signature(Class<?> c, Executable e) {
        String params = Arrays.stream(e.getParameterTypes()).map(Class::getSimpleName).collect(Collectors.joining(", "));
        return c.getName() + (e instanceof Method ? "." + e.getName() : "") + "(" + params + ")";
    }
}
