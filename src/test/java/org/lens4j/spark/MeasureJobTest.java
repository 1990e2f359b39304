package org.lens4j.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.lens4j.InvalidInputException;

/**
 * MeasureJob's command line is checked on the driver before Spark starts (the job itself runs in
 * SparkClusterTest), and the jar carries Spark's JVM options as a resource (issue 18, item 9).
 */
class MeasureJobTest {

    @Test
    void theCommandLineIsReadAndCheckedBeforeSparkStarts() {
        MeasureJob.Options o = MeasureJob.Options.parse(new String[] {"--in", "p.jsonl", "--out", "r.parquet",
                "--measures", "logit_diff,loss,attribution/resid_pre", "--partitions", "8", "--chunk", "4"});
        assertEquals(List.of("logit_diff", "loss", "attribution/resid_pre"), o.measures());
        assertEquals(8, o.partitions());
        assertEquals(4, o.chunk());
        assertEquals("toy-ioi", o.model());
    }

    @Test
    void badOptionsSayWhatIsWrongAndWhatIsValid() {
        String m = assertThrows(InvalidInputException.class, () -> MeasureJob.Options.parse(new String[] {"--in", "p.jsonl"})).getMessage();
        assertTrue(m.contains("--in and --out are required") && m.contains("usage: MeasureJob"), m);
        m = assertThrows(InvalidInputException.class,
                () -> MeasureJob.Options.parse(new String[] {"--in", "p", "--out", "o", "--measures", "logit_diff,logits"})).getMessage();
        assertTrue(m.contains("unknown measure 'logits'") && m.contains("valid: logit_diff, loss"), m);
        m = assertThrows(InvalidInputException.class,
                () -> MeasureJob.Options.parse(new String[] {"--in", "p", "--out", "o", "--measures", "patching/resid"})).getMessage();
        assertTrue(m.contains("unknown patching kind 'resid'") && m.contains("resid_pre"), m);
        m = assertThrows(InvalidInputException.class,
                () -> MeasureJob.Options.parse(new String[] {"--in", "p", "--out", "o", "--chunk", "0"})).getMessage();
        assertTrue(m.contains("--chunk takes a whole number >= 1, got '0'"), m);
        m = assertThrows(InvalidInputException.class, () -> MeasureJob.Options.parse(new String[] {"--in"})).getMessage();
        assertTrue(m.contains("option --in needs a value"), m);
    }

    @Test
    void theJarCarriesSparksJvmOptionsAsAResource() throws Exception {
        byte[] resource;
        try (InputStream in = MeasureJob.class.getClassLoader().getResourceAsStream("lens4j/spark-jvm.options")) {
            assertTrue(in != null, "resource lens4j/spark-jvm.options");
            resource = in.readAllBytes();
        }
        assertEquals(Files.readString(Path.of("src/main/config/spark-jvm.options")), new String(resource, java.nio.charset.StandardCharsets.UTF_8));
        assertTrue(new String(resource, java.nio.charset.StandardCharsets.UTF_8).contains("--add-opens=java.base/sun.nio.ch=ALL-UNNAMED"));
    }
}
