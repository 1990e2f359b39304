/**
 * Measures over datasets of prompts: a {@link org.lens4j.batch.PromptMeasure} run over a list of
 * {@link org.lens4j.batch.PromptRecord}s in chunks by {@link org.lens4j.batch.PromptBatch},
 * streaming one {@link org.lens4j.batch.PromptResult} row per prompt and quantity, with progress
 * and a checkpoint file to resume from after a failure. The same measures run on Spark through
 * {@code org.lens4j.spark.LensSpark}.
 */
package org.lens4j.batch;
