package org.lens4j.analysis;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.Serializable;

/**
 * How the worker ran a patching sweep or path patching: the method, the fast paths it took,
 * and, where it did not take one, why.
 *
 * <p>"suffix" runs each patched variant from the corrupted run's cached residual at the
 * patched layer and position, block by block; "batched" runs the model's whole forward per
 * variant. Both give the same values (to float rounding); the suffix method is faster. It is
 * checked against the model's own forward at the start of every op and used where it
 * reproduces it; the reason it was not is in {@link #fallbackReason()}.
 *
 * <pre>{@code
 * Patching.Result r = Patching.sweep(model, clean, corrupted, metric, Patching.Kind.ATTN_HEAD_OUT_ALL_POS);
 * FastPath how = r.fastPath();
 * if (!how.fast()) System.out.println("ran " + how.method() + ": " + how.fallbackReason());
 * }</pre>
 *
 * @param method "suffix", "batched" or "attribution"
 * @param lastBlockTail the last block computed only the positions the metric reads (sweeps)
 * @param headEntry head-output patches entered the residual after their attention instead of through hooks (sweeps)
 * @param frozenShortcut layers whose heads were all frozen skipped their attention (path patching)
 * @param fallbackReason why the suffix method was not used (null when it was, or was not asked for)
 * @param shortcutReason why the head-output entry / frozen shortcut was not used (null when it was, or was not needed)
 */
public record FastPath(String method, boolean lastBlockTail, boolean headEntry, boolean frozenShortcut,
                       String fallbackReason, String shortcutReason) implements Serializable {

    /** Only the method is known (results built by hand, or by an older worker). */
    public static FastPath of(String method) {
        return new FastPath(method, false, false, false, null, null);
    }

    static FastPath of(JsonNode v) {
        String shortcut = text(v.get("head_entry_reason"));
        return new FastPath(v.path("method").asText(), v.path("last_block_tail").asBoolean(false), v.path("head_entry").asBoolean(false),
                v.path("frozen_shortcut").asBoolean(false), text(v.get("fallback_reason")),
                shortcut != null ? shortcut : text(v.get("frozen_shortcut_reason")));
    }

    private static String text(JsonNode n) {
        return n == null || n.isNull() ? null : n.asText();
    }

    /** Whether the fast (suffix) method ran. */
    public boolean fast() {
        return "suffix".equals(method);
    }

    /** One line saying what was slower than it could be and why, or null when nothing was. */
    public String fallbackLine(String what) {
        if (fallbackReason != null) {
            return "lens4j: " + what + " ran the batched method (the model's whole forward per patch), not the faster suffix method: "
                    + fallbackReason;
        }
        if (shortcutReason != null) {
            return "lens4j: " + what + " ran without its head-output shortcut: " + shortcutReason;
        }
        return null;
    }

    /** Says the fallback on the console where no progress listener received it from the worker. */
    void report(String what, org.lens4j.ProgressListener progress) {
        String line = fallbackLine(what);
        if (line != null && progress == null) {
            System.err.println(line);
        }
    }
}
