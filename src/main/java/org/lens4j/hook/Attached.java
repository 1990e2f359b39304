package org.lens4j.hook;

/**
 * How many hooks one hook point carries now: forward, backward, and how many of them are
 * permanent. {@code model.attachedHooks()} gives one per hook point that carries any.
 *
 * <pre>{@code
 * model.addHook(Hook.at("blocks.0.hook_resid_pre").zero(), true);
 * Map<String, Attached> on = model.attachedHooks();   // {blocks.0.hook_resid_pre=Attached[forward=1, backward=0, permanent=1]}
 * }</pre>
 *
 * @param forward forward hooks at the point
 * @param backward backward (gradient) hooks at the point
 * @param permanent how many of them survive {@code model.resetHooks()}
 */
public record Attached(int forward, int backward, int permanent) {
}
