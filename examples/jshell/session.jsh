Lens lens = Lens.start()
Model model = lens.load("toy-ioi")
String prompt = "When John and Mary went to the shops, John gave the bag to"
model.toStrTokens(prompt)
Run run = model.runWithCache(prompt, Names.only("resid_pre", "pattern"))
run.cache().get("pattern", 3).select(0, 0).select(1, -1)
run.cache()
Metrics.logitDiff(model, run.logits(), " Mary", " John")
lens.close()
/exit
