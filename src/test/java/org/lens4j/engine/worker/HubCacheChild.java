package org.lens4j.engine.worker;

import org.lens4j.EngineOptions;
import org.lens4j.Lens;
import org.lens4j.LensException;
import org.lens4j.Model;

/** Run by {@link OfflineHubTest} with HF_HOME, HF_TOKEN and LENS4J_OFFLINE set: loads a hub name from the cache, then one that is absent. */
public final class HubCacheChild {
    private HubCacheChild() {
    }

    public static void main(String[] args) {
        try (Lens lens = Lens.start(EngineOptions.defaults().withDevice("cpu").withEngine(EngineOptions.Kind.WORKER))) {
            Model model = lens.load("lens4j-test/tiny-gpt2");
            System.out.println("loaded " + model.name() + " from " + model.source() + ", " + model.cfg().nLayers() + " layers");
            try {
                lens.load("nobody/absent-model");
                System.out.println("absent model loaded?!");
            } catch (LensException e) {
                System.out.println("absent: " + e.getMessage());
            }
        }
    }
}
