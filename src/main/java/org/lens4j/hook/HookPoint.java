package org.lens4j.hook;

/**
 * Where a {@link JavaHook} fired: the hook name (as the {@link Hook} named it, or as its
 * filter matched it), the block index ({@code null} outside the blocks, e.g. {@code hook_embed})
 * and the direction ({@link Direction#BACKWARD} for gradient hooks). TransformerLens'
 * {@code hook.name} and {@code hook.layer()} in Java.
 *
 * <pre>{@code
 * model.runWithHooks(prompt, Hook.at(Names.glob("blocks.*.attn.hook_pattern")).java((pattern, hook) -> {
 *     System.out.println(hook.name() + " layer " + hook.layer() + " " + Arrays.toString(pattern.shape()));
 *     return null;
 * }));
 * }</pre>
 *
 * @param name the hook name, e.g. {@code blocks.0.attn.hook_pattern}
 * @param layer the block index, or null for hooks outside the blocks
 * @param direction {@link Direction#FORWARD} or {@link Direction#BACKWARD}
 */
public record HookPoint(String name, Integer layer, Direction direction) {
    /** The layer, for hooks inside the blocks; an IllegalStateException for others. */
    public int layerIndex() {
        if (layer == null) {
            throw new IllegalStateException(name + " is outside the blocks: it has no layer");
        }
        return layer;
    }
}
