package org.lens4j.hook;

import java.util.List;
import java.util.Map;
import org.lens4j.Lens;
import org.lens4j.Names;

/**
 * What running hooks needs from a model, so that {@code org.lens4j.hook} knows nothing of
 * {@code org.lens4j.Model} (which implements this): the engine to call, the model's reference on
 * the wire, and its hook names. Users pass a {@code Model} wherever a {@code HookTarget} is asked.
 *
 * <pre>{@code
 * HookTarget target = model;                                   // a Model is a HookTarget
 * List<String> zs = target.hookNames(Names.glob("blocks.*.attn.hook_z"));
 * List<HookPoint> points = Hooks.resolve(model, Hook.at(ActName.of("z", 1)).zero());
 * }</pre>
 */
public interface HookTarget {
    /** The engine the model lives in. */
    Lens lens();

    /** The model's reference as sent to the engine. */
    Map<String, Object> ref();

    /** The hook names {@code names} selects; explicit ones come back as given, for the engine to check. */
    List<String> hookNames(Names names);
}
