package org.lens4j.hook;

/**
 * Which pass a hook runs in: the forward pass (activations) or the backward pass (the
 * gradients arriving at a hook point); {@link #BOTH} selects both, for {@code resetHooks}.
 *
 * <pre>{@code
 * model.addHook(Hook.at("blocks.1.hook_resid_pre").backward().capture("g"));
 * model.resetHooks(false, Direction.BACKWARD);   // removes only the backward hooks
 * }</pre>
 */
public enum Direction {
    FORWARD, BACKWARD, BOTH
}
