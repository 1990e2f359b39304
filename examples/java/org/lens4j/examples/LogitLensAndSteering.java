package org.lens4j.examples;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.lens4j.Lens;
import org.lens4j.Model;
import org.lens4j.Names;
import org.lens4j.Run;
import org.lens4j.RunOptions;
import org.lens4j.Scope;
import org.lens4j.Tensor;
import org.lens4j.analysis.ActivationDataset;
import org.lens4j.analysis.AnswerPair;
import org.lens4j.analysis.LogitLens;
import org.lens4j.analysis.Metrics;
import org.lens4j.analysis.Pca2;
import org.lens4j.analysis.PromptPair;
import org.lens4j.analysis.SteeringVector;
import org.lens4j.viz.Figures;
import org.lens4j.viz.SeriesOptions;

/**
 * Seed 003, the ML4G exercise "logit lens and activation addition": cache a run and look at
 * its activations; the logit lens (each layer's {@code ln2.hook_normalized} unembedded: the top
 * token and the KL divergence from the final prediction, per position and layer); an activation
 * dataset of prompt pairs read just after the demarcation " :" (antonyms "fast : slow" against
 * translations "fast : schnell"); how separable the pairs are in each layer's first two
 * principal components; and the mean difference as a steering vector added while generating.
 *
 * <pre>
 * ./lens4j run LogitLensAndSteering [--model toy-ioi] [--out out/LogitLensAndSteering]
 * </pre>
 */
public final class LogitLensAndSteering {
    /**
     * The key numbers.
     *
     * @param lensPrompts the logit lens prompts
     * @param lastTopTokens per prompt, the top token at the last position for each layer
     * @param lastKl per prompt, KL(final || layer) at the last position for each layer
     * @param pairs how many prompt pairs the dataset holds
     * @param explainedVariance per layer, the variance ratio of the first two components together
     * @param separability per layer, the accuracy of a mean-difference classifier in the PCA plane
     * @param steeringLayer the layer whose resid_pre the steering vector is added to
     * @param coefficients the coefficients tried
     * @param steeredLogitDiff per coefficient, the mean logit(antonym) - logit(translation) after "word :"
     * @param generations per coefficient, the greedy continuations of the demo prompts
     */
    public record Result(String model, List<String> lensPrompts, List<List<String>> lastTopTokens, List<double[]> lastKl, int pairs,
                         double[] explainedVariance, double[] separability, int steeringLayer, double[] coefficients,
                         double[] steeredLogitDiff, List<List<String>> generations, List<String> files, double seconds) {
    }

    private LogitLensAndSteering() {
    }

    public static void main(String[] args) {
        String model = Cli.option(args, "--model", "toy-ioi");
        try (Lens lens = Lens.start(Cli.engineOptions(model))) {
            run(lens, args);
        }
    }

    @SuppressWarnings("try") // the scope is used for its close()
    public static Result run(Lens lens, String[] args) {
        String modelName = Cli.option(args, "--model", "toy-ioi");
        Output out = new Output(Cli.outDir(args, "LogitLensAndSteering"));
        long start = System.nanoTime();
        try (Scope scope = lens.scope()) {
            // # Loading and Running Models
            Model model = lens.load(modelName);
            int nLayers = model.cfg().nLayers();
            Print.title("Logit lens and activation addition (seed 003) on " + modelName);
            System.out.println(model);

            // # Caching all Activations (remove_batch_dim=True)
            Print.step("Caching all activations");
            String text = "James Potter went to school. James Potter is a student.";
            try (Run run = model.runWithCache(text, Names.all(), RunOptions.defaults().withRemoveBatchDim(true))) {
                System.out.println(run.cache());
            }

            // # Logit Lens: every layer's ln2.hook_normalized unembedded; top token and KL(final || layer)
            Print.step("Logit lens");
            List<String> lensPrompts = List.of("James Potter went to school. James", "Alice and Bob went to the store. Alice gave the milk to");
            List<List<String>> lastTopTokens = new ArrayList<>();
            List<double[]> lastKl = new ArrayList<>();
            for (int i = 0; i < lensPrompts.size(); i++) {
                LogitLens.Result r = LogitLens.run(model, lensPrompts.get(i), LogitLens.Options.defaults());
                String[][] top = r.topTokenGrid(0);   // [position][layer]
                double[][] kl = r.klGrid(0);          // [position][layer]
                List<String> tokens = r.strTokens().get(0);
                Print.line("%s: top token (KL from the final prediction) per layer", Print.tok(lensPrompts.get(i)));
                List<String> columns = new ArrayList<>(r.labels());
                printLensGrid(tokens, columns, top, kl);
                int last = tokens.size() - 1;
                List<String> lastRow = new ArrayList<>();
                double[] klRow = new double[columns.size()];
                for (int l = 0; l < columns.size(); l++) {
                    lastRow.add(top[last][l]);
                    klRow[l] = kl[last][l];
                }
                lastTopTokens.add(lastRow);
                lastKl.add(klRow);
                Print.line("At the last token, layer by layer: %s", Print.toks(lastRow));
                out.json("logit_lens_" + i, r);
                out.view("logit_lens_" + i, r.figure(lens));
            }

            // # Linear Separability of the Activations: the seed's prompt pairs, read one token after " :"
            Print.step("Activation dataset: antonym vs translation pairs");
            List<PromptPair> steeringPromptPairs = steeringPromptPairs();
            String demarcationString = " :";
            ActivationDataset data = ActivationDataset.collect(model, steeringPromptPairs, demarcationString, ActivationDataset.Options.defaults());
            Print.line("%s: a = antonym prompts (\"fast : slow\"), b = translation prompts (\"fast : schnell\")", data);
            out.json("activation_dataset", data);

            // # PCA per layer (plot_activation_seperability)
            Print.step("PCA separability per layer");
            Pca2.Result pca = Pca2.fit(lens, data);
            double[] explained = new double[pca.layers().size()];
            Print.line("layer   explained variance (PC0 + PC1)   accuracy in the PCA plane   accuracy in the full space");
            for (int i = 0; i < pca.layers().size(); i++) {
                explained[i] = pca.explainedVarianceRatio()[i][0] + pca.explainedVarianceRatio()[i][1];
                Print.line("%5d   %30.3f   %25.3f   %26.3f", pca.layers().get(i), explained[i], pca.accuracyPca()[i], pca.accuracyFull()[i]);
            }
            int bestLayer = pca.layers().get(argmax(pca.accuracyPca()));
            Print.line("Most separable in two dimensions: layer %d", bestLayer);
            out.json("pca", pca);
            int seedLayer = Math.min(4, nLayers - 1);   // the seed plots layer 4
            out.view("pca_layer" + seedLayer, pca.figure(lens, seedLayer));
            if (bestLayer != seedLayer) {
                out.view("pca_layer" + bestLayer, pca.figure(lens, bestLayer));
            }

            // # Activation addition: the mean difference (a - b) at resid_pre, added back there while generating
            Print.step("Steering vector (antonym - translation) added at resid_pre");
            ActivationDataset resid = ActivationDataset.collect(model, steeringPromptPairs, demarcationString,
                    ActivationDataset.Options.defaults().withSite(ActivationDataset.Site.RESID_PRE));
            SteeringVector vector = SteeringVector.of(lens, resid);
            int layer = nLayers / 2;
            Print.line("%s; at layer %d its norm is %.2f", vector, layer, vector.norms()[layer]);
            out.json("steering_vector", vector);
            out.view("steering_vector_norms", vector.figure(lens));

            // Every "word :" prompt whose antonym and translation are different single tokens.
            List<String> prompts = new ArrayList<>();
            List<AnswerPair> answers = new ArrayList<>();
            List<String> texts = new ArrayList<>();
            for (PromptPair p : steeringPromptPairs) {
                texts.add(p.a().substring(p.a().indexOf(" :") + 2));
                texts.add(p.b().substring(p.b().indexOf(" :") + 2));
            }
            List<List<String>> answerTokens = model.toStrTokensBatch(texts);
            for (int i = 0; i < steeringPromptPairs.size(); i++) {
                List<String> antonym = answerTokens.get(2 * i);
                List<String> translation = answerTokens.get(2 * i + 1);
                if (single(antonym) && single(translation) && !texts.get(2 * i).equals(texts.get(2 * i + 1))) {
                    PromptPair p = steeringPromptPairs.get(i);
                    prompts.add(p.a().substring(0, p.a().indexOf(" :") + 2));
                    answers.add(AnswerPair.of(texts.get(2 * i), texts.get(2 * i + 1)));
                }
            }
            // Coefficients in units of the residual stream: 0.5 adds a vector half as long as the mean resid_pre there.
            double residNorm = meanNorm(resid.a(), resid.layers().indexOf(layer));
            double unit = residNorm / vector.norms()[layer];
            double[] fractions = {-0.5, -0.25, 0, 0.25, 0.5};
            double[] coefficients = new double[fractions.length];
            double[] steered = new double[fractions.length];
            Print.line("Mean logit(antonym) - logit(translation) after \"word :\" over %d words, by coefficient "
                    + "(x the vector; the added length as a share of the residual stream's, %.1f):", prompts.size(), residNorm);
            for (int c = 0; c < fractions.length; c++) {
                coefficients[c] = fractions[c] * unit;
                try (Tensor logits = vector.apply(model, prompts, layer, coefficients[c])) {
                    steered[c] = Metrics.logitDiff(answers).evaluate(model, logits, prompts);
                }
                Print.line("  coefficient %+8.1f (%+5.2f x the residual norm): %+.3f", coefficients[c], fractions[c], steered[c]);
            }
            List<String> demo = List.of("hot :", "big :", "good :");
            List<List<String>> generations = new ArrayList<>();
            double[] shown = {-0.5 * unit, 0, 0.5 * unit};
            for (double coefficient : shown) {
                List<String> row = new ArrayList<>();
                for (String prompt : demo) {
                    row.add(vector.generate(model, prompt, layer, coefficient, 3));
                }
                generations.add(row);
                Print.line("  coefficient %+8.1f: %s", coefficient, Print.toks(row));
            }
            out.view("steering", Figures.line(lens, steered, SeriesOptions.titled("Steering at resid_pre " + layer
                    + ": logit(antonym) - logit(translation)").withX(toList(fractions)).withXaxis("Coefficient (x the residual norm)")
                    .withYaxis("Logit difference").withSharedPlotlyJs(true)));

            double seconds = (System.nanoTime() - start) / 1e9;
            List<String> files = new ArrayList<>(out.names());
            files.add("summary.json");
            Result result = new Result(modelName, lensPrompts, lastTopTokens, lastKl, data.size(), explained, pca.accuracyPca(), layer,
                    coefficients, steered, generations, files, seconds);
            out.json("summary", result);
            out.printSummary();
            Print.line("Done in %.1f s.", seconds);
            return result;
        }
    }

    /** plot_logit_lens as text: one row per position (its token), one column per layer, "top (KL)". */
    private static void printLensGrid(List<String> tokens, List<String> layers, String[][] top, double[][] kl) {
        StringBuilder head = new StringBuilder(String.format(Locale.ROOT, "%-12s", "position"));
        for (String l : layers) {
            head.append(String.format(Locale.ROOT, " %-17s", l));
        }
        System.out.println(head);
        for (int p = 0; p < tokens.size(); p++) {
            StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "%-12s", cut(Print.tok(tokens.get(p)), 12)));
            for (int l = 0; l < layers.size(); l++) {
                row.append(String.format(Locale.ROOT, " %-17s", cut(Print.tok(top[p][l]), 10) + String.format(Locale.ROOT, " (%.2f)", kl[p][l])));
            }
            System.out.println(row.toString().stripTrailing());
        }
    }

    private static String cut(String s, int n) {
        return s.length() <= n ? s : s.substring(0, n - 1) + "…";
    }

    /** The mean L2 norm of the activations of one layer row, [pair][row][d_model]. */
    private static double meanNorm(double[][][] activations, int row) {
        double sum = 0;
        for (double[][] pair : activations) {
            double sq = 0;
            for (double v : pair[row]) {
                sq += v * v;
            }
            sum += Math.sqrt(sq);
        }
        return sum / activations.length;
    }

    private static boolean single(List<String> tokensWithBos) {
        return tokensWithBos.size() == 2;
    }

    private static int argmax(double[] values) {
        int best = 0;
        for (int i = 1; i < values.length; i++) {
            if (values[i] > values[best]) {
                best = i;
            }
        }
        return best;
    }

    private static List<Double> toList(double[] values) {
        List<Double> out = new ArrayList<>();
        for (double v : values) {
            out.add(v);
        }
        return out;
    }

    private static PromptPair p(String a, String b) {
        return PromptPair.of(a, b);
    }

    /** The seed's steering_prompt_pairs: [antonym prompt, translation prompt]. */
    static List<PromptPair> steeringPromptPairs() {
        return List.of(
                p("fast : slow", "fast : schnell"), p("cold : warm", "cold : kalt"), p("big : small", "big : groß"),
                p("happy : sad", "happy : froh"), p("light : dark", "light : hell"), p("loud : quiet", "loud : laut"),
                p("new : old", "new : neu"), p("rich : poor", "rich : reich"), p("strong : weak", "strong : stark"),
                p("young : old", "young : jung"), p("clean : dirty", "clean : rein"), p("dry : wet", "dry : trocken"),
                p("full : empty", "full : voll"), p("good : bad", "good : gut"), p("hard : soft", "hard : hart"),
                p("heavy : light", "heavy : schwer"), p("high : low", "high : hoch"), p("long : short", "long : lang"),
                p("right : wrong", "right : richtig"), p("rough : smooth", "rough : rau"), p("sharp : dull", "sharp : scharf"),
                p("thick : thin", "thick : dick"), p("wide : narrow", "wide : breit"), p("brave : cowardly", "brave : mutig"),
                p("calm : angry", "calm : ruhig"), p("clever : stupid", "clever : klug"), p("cruel : kind", "cruel : grausam"),
                p("deep : shallow", "deep : tief"), p("early : late", "early : früh"), p("easy : hard", "easy : leicht"),
                p("fake : real", "fake : falsch"), p("far : near", "far : weit"), p("first : last", "first : erster"),
                p("free : captive", "free : frei"), p("front : back", "front : vorne"), p("great : terrible", "great : toll"),
                p("hot : cold", "hot : heiß"), p("large : small", "large : groß"), p("left : right", "left : links"),
                p("loose : tight", "loose : locker"), p("lost : found", "lost : verloren"), p("low : high", "low : niedrig"),
                p("major : minor", "major : wichtig"), p("many : few", "many : viele"), p("open : closed", "open : offen"),
                p("past : future", "past : vergangen"), p("peace : war", "peace : frieden"),
                p("quick : slow", "quick : schnell"), p("raw : cooked", "raw : roh"), p("safe : dangerous", "safe : sicher"),
                p("same : different", "same : gleich"), p("short : tall", "short : kurz"), p("sick : healthy", "sick : krank"),
                p("simple : complex", "simple : einfach"), p("single : married", "single : ledig"),
                p("slow : fast", "slow : langsam"), p("small : big", "small : klein"), p("smart : dumb", "smart : klug"),
                p("soft : hard", "soft : weich"), p("sour : sweet", "sour : sauer"), p("start : end", "start : anfang"),
                p("stop : go", "stop : halt"), p("sweet : sour", "sweet : süß"), p("tall : short", "tall : groß"),
                p("tame : wild", "tame : zahm"), p("thin : fat", "thin : dünn"), p("top : bottom", "top : oben"),
                p("tough : tender", "tough : zäh"), p("true : false", "true : wahr"), p("ugly : beautiful", "ugly : hässlich"),
                p("urban : rural", "urban : städtisch"), p("used : new", "used : gebraucht"),
                p("useful : useless", "useful : nützlich"), p("valid : invalid", "valid : gültig"),
                p("vast : tiny", "vast : riesig"), p("vegan : carnivore", "vegan : vegan"),
                p("visible : invisible", "visible : sichtbar"), p("vital : trivial", "vital : wichtig"),
                p("vivid : dull", "vivid : lebhaft"), p("warm : cool", "warm : warm"), p("waste : save", "waste : abfall"),
                p("weak : strong", "weak : schwach"), p("wealth : poverty", "wealth : reichtum"),
                p("weird : normal", "weird : seltsam"), p("wet : dry", "wet : nass"), p("white : black", "white : weiß"),
                p("whole : part", "whole : ganz"), p("wide : narrow", "wide : breit"), p("wild : tame", "wild : wild"),
                p("win : lose", "win : sieg"), p("wise : foolish", "wise : weise"), p("woman : man", "woman : frau"),
                p("work : play", "work : arbeit"), p("wrong : right", "wrong : falsch"), p("yes : no", "yes : ja"),
                p("young : old", "young : jung"), p("zero : one", "zero : null"));
    }
}
