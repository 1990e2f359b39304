package org.lens4j.internal;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Op arguments in order, leaving out nulls so that Python's defaults apply.
 *
 * <pre>{@code
 * LensAccess.ops(lens).call("analysis.detect_head", Args.of("model", model.ref(), "input", prompt, "pattern", "induction_head",
 *         "heads", null).map());   // "heads" is left out
 * }</pre>
 */
public final class Args {
    private final Map<String, Object> map = new LinkedHashMap<>();

    public static Args of(Object... keysAndValues) {
        Args a = new Args();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            a.put((String) keysAndValues[i], keysAndValues[i + 1]);
        }
        return a;
    }

    public Args put(String key, Object value) {
        if (value != null) {
            map.put(key, value);
        }
        return this;
    }

    public Map<String, Object> map() {
        return map;
    }
}
