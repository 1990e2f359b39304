package org.lens4j;

import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * TransformerLens' {@code get_act_name} in Java: short activation names to full hook names,
 * with every alias ("attn" is "pattern", "key" is "k", "scale4ln1", "k6", ...). Pure Java,
 * checked name for name against Python's in the tests.
 *
 * <pre>{@code
 * ActName.of("resid_pre", 3);          // "blocks.3.hook_resid_pre"
 * ActName.of("pattern", 0);            // "blocks.0.attn.hook_pattern"
 * ActName.of("scale", 2, "ln1");       // "blocks.2.ln1.hook_scale"
 * ActName.of("k6");                    // "blocks.6.attn.hook_k"
 * ActName.of("embed");                 // "hook_embed"
 * }</pre>
 */
public final class ActName {
    private static final Pattern COMPACT = Pattern.compile("([a-z]+)(\\d+)([a-z]?.*)");
    private static final Map<String, String> LAYER_TYPE_ALIAS = Map.of(
            "a", "attn", "m", "mlp", "b", "", "block", "", "blocks", "", "attention", "attn");
    private static final Map<String, String> NAME_ALIAS = Map.of(
            "attn", "pattern", "attn_logits", "attn_scores", "key", "k", "query", "q", "value", "v",
            "mlp_pre", "pre", "mlp_mid", "mid", "mlp_post", "post");
    private static final List<String> ATTN_NAMES = List.of("k", "v", "q", "z", "rot_k", "rot_q", "result", "pattern", "attn_scores");
    private static final List<String> MLP_NAMES = List.of("pre", "post", "mid", "pre_linear");
    private static final List<String> LAYER_NORM_NAMES = List.of("scale", "normalized");

    private ActName() {
    }

    /** A full name, or a compact one such as "k6" or "scale4ln1"; full names come back unchanged. */
    public static String of(String name) {
        return of(name, null, null);
    }

    public static String of(String name, int layer) {
        return of(name, layer, null);
    }

    /**
     * @param name a short name ("resid_pre", "pattern", "z", ...) or a full hook name
     * @param layer the block index, or null for names outside the blocks
     * @param layerType "attn", "mlp", "ln1", "ln2", or an alias ("a", "m", "b", "block", "attention"); may be null
     */
    public static String of(String name, Integer layer, String layerType) {
        Objects.requireNonNull(name, "name");
        if ((name.contains(".") || name.startsWith("hook_")) && layer == null && layerType == null) {
            return name;
        }
        String layerPart = layer == null ? null : layer.toString();
        Matcher m = COMPACT.matcher(name);
        if (m.matches()) {
            name = m.group(1);
            layerPart = m.group(2);
            layerType = m.group(3);
        }
        name = NAME_ALIAS.getOrDefault(name, name);
        StringBuilder full = new StringBuilder();
        if (layerPart != null) {
            full.append("blocks.").append(layerPart).append('.');
        }
        if (ATTN_NAMES.contains(name)) {
            layerType = "attn";
        } else if (MLP_NAMES.contains(name)) {
            layerType = "mlp";
        } else if (layerType != null && LAYER_TYPE_ALIAS.containsKey(layerType)) {
            layerType = LAYER_TYPE_ALIAS.get(layerType);
        }
        if (layerType != null && !layerType.isEmpty()) {
            full.append(layerType).append('.');
        }
        full.append("hook_").append(name);
        if (LAYER_NORM_NAMES.contains(name) && layerPart == null) {
            return "ln_final." + full;
        }
        return full.toString();
    }
}
