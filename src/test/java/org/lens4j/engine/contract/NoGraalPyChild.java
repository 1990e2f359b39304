package org.lens4j.engine.contract;

import java.util.Arrays;
import org.lens4j.EngineException;
import org.lens4j.EngineOptions;
import org.lens4j.Lens;
import org.lens4j.Model;
import org.lens4j.Names;
import org.lens4j.Run;
import org.lens4j.engine.CallbackHandler;
import org.lens4j.engine.graalpy.GraalPySettings;
import org.lens4j.internal.Engines;

/** The program that {@link OptionalGraalPyTest} runs in a JVM without GraalPy's or JEP's jars; prints what it saw. */
public final class NoGraalPyChild {
    private NoGraalPyChild() {
    }

    public static void main(String[] args) {
        EngineOptions options = EngineOptions.defaults().withDevice("cpu");
        try {
            Engines.start(options.withEngine(EngineOptions.Kind.GRAALPY), CallbackHandler.NONE, GraalPySettings.none()).close();
            System.out.println("GRAALPY started, which it cannot without its jars");
        } catch (EngineException e) {
            System.out.println("GRAALPY refused: " + e.kind() + ": " + e.getMessage());
        }
        try {
            Engines.start(options.withEngine(EngineOptions.Kind.EMBEDDED), CallbackHandler.NONE, GraalPySettings.none()).close();
            System.out.println("EMBEDDED started, which it cannot without JEP's jar");
        } catch (EngineException e) {
            System.out.println("EMBEDDED refused: " + e.kind() + ": " + e.getMessage());
        }
        try (Lens lens = Lens.start(options)) {
            Model model = lens.load("toy-ioi");
            Run run = model.runWithCache("When John and Mary went to the shops", Names.only("pattern"));
            System.out.println("worker ran: logits " + Arrays.toString(run.logits().shape())
                    + ", pattern " + Arrays.toString(run.cache().get("pattern", 0).shape()));
        }
    }
}
