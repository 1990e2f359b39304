// lens4j's JShell startup: the API packages. ./lens4j jshell loads it after JShell's DEFAULT imports;
// it runs again on /reset. Values print usefully: tensors (shape, dtype, device, torch preview),
// caches (their entries), models, results.
import org.lens4j.*;
import org.lens4j.analysis.*;
import org.lens4j.hook.*;
import org.lens4j.viz.*;
import org.lens4j.data.*;
import org.lens4j.batch.*;
