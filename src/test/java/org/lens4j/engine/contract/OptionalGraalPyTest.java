package org.lens4j.engine.contract;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import org.junit.jupiter.api.Test;
import org.lens4j.ChildJvm;
import org.lens4j.Lens;

/**
 * GraalPy's jars are optional dependencies: a project that depends on lens4j runs the worker engine
 * with lens4j and Jackson alone, and asking for GraalPy there names the dependencies to add. Runs
 * {@link NoGraalPyChild} in a JVM whose class path is exactly lens4j's classes, this test's classes
 * and the three Jackson jars, as a downstream project's would be.
 */
class OptionalGraalPyTest {

    @Test
    void workerRunsAndGraalPyNamesItsDependencyWithoutGraalPyJars() throws Exception {
        String cp = ChildJvm.classPathOf(Lens.class, NoGraalPyChild.class, ObjectMapper.class, JsonFactory.class, JsonProperty.class);
        for (String entry : cp.split(File.pathSeparator)) {
            assertFalse(entry.contains("graalvm") || entry.contains("truffle") || entry.contains("jep"), entry);
        }
        ChildJvm run = ChildJvm.run(ChildJvm.command(cp, NoGraalPyChild.class), 240);
        String out = run.output();
        assertEquals(0, run.exitCode(), out);
        assertTrue(out.contains("GRAALPY refused: ENGINE_START"), out);
        assertTrue(out.contains("org.graalvm.polyglot:polyglot:25.0.3"), out);
        assertTrue(out.contains("org.graalvm.polyglot:python-community:25.0.3"), out);
        assertTrue(out.contains("EMBEDDED refused: ENGINE_START"), out);
        assertTrue(out.contains("black.ninia:jep:4.2.2"), out);
        assertFalse(out.contains("NoClassDefFoundError"), out);
        assertTrue(out.contains("worker ran: logits [1, "), out);
        assertTrue(out.contains("pattern [1, "), out);
    }
}
