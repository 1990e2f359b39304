/**
 * Hooks and interventions: TransformerLens' hooks from Java.
 *
 * <p>A {@link org.lens4j.hook.Hook} pairs a hook point (a name, several, or a filter) with
 * actions. Declarative actions (zero, mean, patch, resample, add, scale, set, capture) run in
 * Python inside the hook, with no round trip; a {@link org.lens4j.hook.JavaHook} lambda runs
 * in Java through a callback. Hooks run for one call ({@code model.runWithHooks},
 * {@code runWithCache}, {@code runWithGradients}, {@code generate}) or stay on the model
 * ({@code model.addHook}, the hooks scope {@code model.hooks(...)}, both giving an
 * {@code org.lens4j.HookSet}). The guide is docs/hooks.md.
 *
 * <p>This package is vocabulary: values ({@link org.lens4j.hook.Hook}, its selections as
 * {@link org.lens4j.Slice}, {@link org.lens4j.hook.Backward}, the options) and result records.
 * They know nothing of {@code Model} or the engine; {@code Model} runs them.
 *
 * <pre>{@code
 * Tensor ablated = model.runWithHooks(prompt, Hook.at(ActName.of("z", 9)).positions(-1).heads(9).zero());
 * Tensor patched = model.runWithHooks(corrupt, Hook.at("resid_pre", 3).positions(5).patchFrom(cleanCache));
 * try (HookSet steer = model.hooks(Hook.at("blocks.6.hook_resid_pre").add(direction, 4.0))) {
 *     System.out.println(model.generate(prompt, GenerateOptions.greedy(20)).text());
 * }
 * GradientRun grads = model.runWithGradients(prompt, Names.only("resid_pre"), Backward.logitDiff(mary, john));
 * }</pre>
 */
package org.lens4j.hook;
