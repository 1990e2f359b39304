package org.lens4j.engine.contract;

import java.util.Map;
import org.lens4j.engine.CallbackHandler;
import org.lens4j.engine.Engine;

/**
 * The engine contract on the in-process GraalPy engine (one context shared by the class): the
 * torch-free ops must pass; the torch ops run only where GraalPy imports torch and
 * transformer_lens (a GraalPy venv named by LENS4J_GRAALPY_VENV), else they are skipped with why.
 */
class GraalPyEngineContractTest extends EngineContract {
    @Override
    Engine engine() {
        return ContractEngines.graalPy();
    }

    @Override
    Map<String, CallbackHandler> callbacks() {
        return ContractEngines.GRAALPY_CALLBACKS;
    }

    @Override
    String torchGap() {
        return ContractEngines.graalPyTorchGap();
    }
}
