package org.lens4j.engine.contract;

import java.util.Map;
import org.lens4j.engine.CallbackHandler;
import org.lens4j.engine.Engine;

/** The engine contract on the CPython worker, which runs TransformerLens everywhere lens4j runs. */
class WorkerEngineContractTest extends EngineContract {
    @Override
    Engine engine() {
        return ContractEngines.worker();
    }

    @Override
    Map<String, CallbackHandler> callbacks() {
        return ContractEngines.WORKER_CALLBACKS;
    }

    @Override
    String torchGap() {
        return null; // the worker's venv always holds torch and transformer-lens
    }
}
