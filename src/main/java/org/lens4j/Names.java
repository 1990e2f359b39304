package org.lens4j;

import java.nio.file.FileSystems;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * Which hook names a run caches (or a hook attaches to): all, an explicit list, short names
 * over every layer, a glob, or any Java predicate. Resolved in Java against the model's hook
 * names, so the predicate runs once per name, not once per activation.
 *
 * <pre>{@code
 * Names.all();
 * Names.of("blocks.0.attn.hook_pattern", "blocks.1.hook_resid_pre");
 * Names.only("pattern", "resid_pre");             // blocks.*.attn.hook_pattern and blocks.*.hook_resid_pre
 * Names.glob("blocks.*.attn.hook_[qkv]");
 * Names.matching(n -> n.endsWith("hook_z"));
 * }</pre>
 */
public final class Names {
    private final String description;
    private final Predicate<String> predicate;
    private final List<String> explicit;
    private final boolean all;

    private Names(String description, Predicate<String> predicate, List<String> explicit) {
        this(description, predicate, explicit, false);
    }

    private Names(String description, Predicate<String> predicate, List<String> explicit, boolean all) {
        this.description = description;
        this.predicate = predicate;
        this.explicit = explicit;
        this.all = all;
    }

    public static Names all() {
        return new Names("all", n -> true, null, true);
    }

    /** Exactly these full hook names; an unknown one is an error that lists the nearest valid names. */
    public static Names of(String... fullNames) {
        List<String> names = List.of(fullNames);
        return new Names("of" + names, names::contains, names);
    }

    /** Short names as {@link ActName} knows them, at every layer ("pattern", "resid_pre", "z", "embed", ...). */
    public static Names only(String... shortNames) {
        List<String> suffixes = new ArrayList<>();
        for (String s : shortNames) {
            String full = ActName.of(s, 0, null);
            suffixes.add(full.substring(full.indexOf('.', "blocks.".length()) + 1));
        }
        List<String> topLevel = Arrays.stream(shortNames).map(ActName::of).toList();
        return new Names("only" + Arrays.toString(shortNames), n -> topLevel.contains(n)
                || n.startsWith("blocks.") && suffixes.contains(n.substring(n.indexOf('.', "blocks.".length()) + 1)), null);
    }

    /** A glob over full names, where {@code *} matches any run of characters (dots too). */
    public static Names glob(String pattern) {
        Objects.requireNonNull(pattern, "pattern");
        PathMatcher m = FileSystems.getDefault().getPathMatcher("glob:" + pattern.replace("*", "**"));
        return new Names("glob(" + pattern + ")", n -> m.matches(Path.of(n)), null);
    }

    public static Names matching(Predicate<String> predicate) {
        return new Names("matching(predicate)", Objects.requireNonNull(predicate, "predicate"), null);
    }

    /** The names of {@code available} this selects; explicit names are returned as given, for Python to check. */
    List<String> resolve(List<String> available) {
        if (explicit != null) {
            return explicit;
        }
        List<String> chosen = available.stream().filter(predicate).toList();
        if (chosen.isEmpty()) {
            throw new InvalidInputException("no hook name matches " + description + "; hook names look like "
                    + available.stream().filter(n -> n.startsWith("blocks.0.")).limit(8).toList());
        }
        return chosen;
    }

    /**
     * The names of {@code available} (such as a cache's {@link ActivationCache#keys()}) that this
     * selects, in the order of {@code available}; an explicit name ({@link #of}) that is not
     * available is an {@link InvalidInputException}, as is a selection of nothing.
     *
     * <pre>{@code
     * List<String> chosen = Names.only("resid_pre").select(cache.keys());   // blocks.0.hook_resid_pre, ...
     * }</pre>
     */
    public List<String> select(List<String> available) {
        Objects.requireNonNull(available, "available");
        if (explicit != null) {
            List<String> missing = explicit.stream().filter(n -> !available.contains(n)).toList();
            if (!missing.isEmpty()) {
                throw new InvalidInputException("not available: " + missing + "; available names: "
                        + available.stream().limit(12).toList() + (available.size() > 12 ? " ..." : ""));
            }
            return available.stream().filter(explicit::contains).toList();
        }
        return resolve(available);
    }

    /**
     * Whether this is {@link #all()}: every hook name, so a run can ask for everything instead of
     * listing the names.
     *
     * <pre>{@code
     * Names.all().isAll();              // true
     * Names.glob("blocks.*").isAll();   // false, even if it happens to match every name
     * }</pre>
     */
    public boolean isAll() {
        return all;
    }

    /**
     * The names given to {@link #of}, in order, or empty for every other kind of selection.
     * Explicit names are listed on purpose: each must exist (and a hook on one must fire).
     *
     * <pre>{@code
     * Names.of("blocks.0.hook_resid_pre").explicitNames();   // Optional[[blocks.0.hook_resid_pre]]
     * Names.only("resid_pre").explicitNames();               // Optional.empty
     * }</pre>
     */
    public Optional<List<String>> explicitNames() {
        return Optional.ofNullable(explicit);
    }

    @Override
    public String toString() {
        return "Names." + description;
    }
}
