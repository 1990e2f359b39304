package org.lens4j;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import org.lens4j.engine.Json;

/**
 * A model's configuration, as TransformerLens' {@code model.cfg} gives it. Serializes to
 * JSON and back with Jackson, with TransformerLens' field names.
 *
 * <pre>{@code
 * ModelConfig cfg = model.cfg();
 * System.out.println(cfg.nLayers() + " layers x " + cfg.nHeads() + " heads, d_model " + cfg.dModel());
 * }</pre>
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record ModelConfig(
        @JsonProperty("model_name") String modelName,
        @JsonProperty("n_layers") int nLayers,
        @JsonProperty("n_heads") int nHeads,
        @JsonProperty("d_model") int dModel,
        @JsonProperty("d_head") int dHead,
        @JsonProperty("d_mlp") Integer dMlp,
        @JsonProperty("d_vocab") int dVocab,
        @JsonProperty("d_vocab_out") Integer dVocabOut,
        @JsonProperty("n_ctx") int nCtx,
        @JsonProperty("act_fn") String actFn,
        @JsonProperty("normalization_type") String normalizationType,
        @JsonProperty("positional_embedding_type") String positionalEmbeddingType,
        @JsonProperty("attn_only") Boolean attnOnly,
        @JsonProperty("n_key_value_heads") Integer nKeyValueHeads,
        @JsonProperty("original_architecture") String originalArchitecture,
        @JsonProperty("default_prepend_bos") Boolean defaultPrependBos,
        @JsonProperty("device") String device,
        @JsonProperty("dtype") String dtype) {

    static ModelConfig fromJson(JsonNode node) {
        return Json.MAPPER.convertValue(node, ModelConfig.class);
    }
}
