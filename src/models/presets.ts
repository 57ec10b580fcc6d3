import type { ModelConfig, ModelName } from "./types.js";

/**
 * The paper's configurations (Table/Section 4 of "Adaptive Optimizers with
 * Sparse Group Lasso for Neural Networks in CTR Prediction"), `fields` being
 * the dataset's categorical fields:
 * - mlp, Avazu: 22 fields, embedding 16, fully connected 64-32-16-1, ReLU;
 * - opnn, iPinYou: 16 fields, embedding 10, product layer of 512 then 256,
 *   128, dropout 0.5 after each (Qu et al. 2016's settings);
 * - dcn, Criteo: 39 fields (13 integer + 26 categorical), embedding 8, two
 *   cross layers, deep 64-64.
 * Not in the paper, same Criteo fields:
 * - lr: logistic regression, one weight per feature plus a bias;
 * - deepfm: embedding 10, DNN 400-400-400 with dropout 0.5 (Guo et al.
 *   2017's settings).
 * Each preset lists exactly the settings its model accepts (besides `seed`).
 */
export const MODEL_PRESETS: Readonly<Record<ModelName, Readonly<ModelConfig>>> = deepFreeze({
  mlp: { fields: 22, embedding: 16, hidden: [64, 32, 16], dropout: 0 },
  opnn: { fields: 16, embedding: 10, hidden: [512, 256, 128], dropout: 0.5 },
  dcn: { fields: 39, embedding: 8, hidden: [64, 64], dropout: 0, crossLayers: 2 },
  lr: { fields: 39 },
  deepfm: { fields: 39, embedding: 10, hidden: [400, 400, 400], dropout: 0.5 },
});

function deepFreeze<T>(o: T): T {
  if (o && typeof o === "object") {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
