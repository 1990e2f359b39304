package org.lens4j;

import java.util.LinkedHashMap;
import java.util.Map;

/** Op arguments in order, leaving out nulls so that Python's defaults apply. */
final class Args {
    private final Map<String, Object> map = new LinkedHashMap<>();

    static Args of(Object... keysAndValues) {
        Args a = new Args();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            a.put((String) keysAndValues[i], keysAndValues[i + 1]);
        }
        return a;
    }

    Args put(String key, Object value) {
        if (value != null) {
            map.put(key, value);
        }
        return this;
    }

    Map<String, Object> map() {
        return map;
    }
}
