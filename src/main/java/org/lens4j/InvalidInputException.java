package org.lens4j;

import java.util.Map;


/**
 * The call was wrong: an unknown hook or model, a text that is not one token, mismatched
 * shapes, a bad argument. The message says what was wrong and what is valid; the engine is
 * unharmed and takes the next call.
 *
 * <pre>{@code
 * try { model.runWithCache(prompt, Names.of("blocks.0.attn.hook_patern")); }
 * catch (InvalidInputException e) { System.out.println(e.getMessage()); } // ... nearest valid names: [blocks.0.attn.hook_pattern]
 * }</pre>
 */
public class InvalidInputException extends LensException {
    public InvalidInputException(ErrorKind kind, String message, String pythonType, String traceback) {
        this(kind, message, pythonType, traceback, Map.of());
    }

    public InvalidInputException(ErrorKind kind, String message, String pythonType, String traceback,
            Map<String, ?> details) {
        super(kind, message, pythonType, traceback, null, details);
    }

    public InvalidInputException(String message) {
        this(ErrorKind.BAD_ARGUMENT, message, null, null);
    }
}
