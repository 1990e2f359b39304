package org.lens4j.engine.contract;

import java.util.Map;
import org.lens4j.engine.CallbackHandler;
import org.lens4j.engine.Engine;

/** The engine contract on the embedded engine: CPython and TransformerLens inside this JVM through JEP. */
class EmbeddedEngineContractTest extends EngineContract {
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
