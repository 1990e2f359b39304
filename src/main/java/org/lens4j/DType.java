package org.lens4j;

import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * Tensor element types, named as torch names them.
 *
 * <pre>{@code
 * Tensor half = logits.to(DType.FLOAT16);
 * DType.of("bfloat16"); // BFLOAT16
 * }</pre>
 */
public enum DType {
    FLOAT32("float32", 4),
    FLOAT64("float64", 8),
    FLOAT16("float16", 2),
    BFLOAT16("bfloat16", 2),
    INT64("int64", 8),
    INT32("int32", 4),
    INT16("int16", 2),
    INT8("int8", 1),
    UINT8("uint8", 1),
    BOOL("bool", 1);

    private final String wireName;
    private final int itemSize;

    DType(String wireName, int itemSize) {
        this.wireName = wireName;
        this.itemSize = itemSize;
    }

    /** The name torch uses, without "torch.". */
    public String wireName() {
        return wireName;
    }

    public int itemSize() {
        return itemSize;
    }

    public boolean isFloatingPoint() {
        return this == FLOAT32 || this == FLOAT64 || this == FLOAT16 || this == BFLOAT16;
    }

    public static DType of(String name) {
        for (DType d : values()) {
            if (d.wireName.equals(name)) {
                return d;
            }
        }
        throw new IllegalArgumentException("unknown dtype '" + name + "'; valid: "
                + Arrays.stream(values()).map(DType::wireName).collect(Collectors.joining(", ")));
    }

    @Override
    public String toString() {
        return wireName;
    }
}
