package org.lens4j.engine.contract;

import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.lens4j.engine.CallbackHandler;
import org.lens4j.engine.Engine;

/** The engine contract on the embedded engine: CPython and TransformerLens inside this JVM through JEP. */
class EmbeddedEngineContractTest extends EngineContract {
    @BeforeAll
    static void onlyInTheEmbeddedPass() {
        Assumptions.assumeTrue("embedded".equalsIgnoreCase(System.getenv("LENS4J_ENGINE")),
                "the embedded engine's tests run in ./lens4j test's embedded pass (LENS4J_ENGINE=embedded), in a JVM of their own");
    }

    @Override
    Engine engine() {
        return ContractEngines.embedded();
    }

    @Override
    Map<String, CallbackHandler> callbacks() {
        return ContractEngines.EMBEDDED_CALLBACKS;
    }

    @Override
    String torchGap() {
        return null; // the venv that holds JEP holds torch and transformer-lens
    }
}
