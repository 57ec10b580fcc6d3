// Mirror of src/kernels/assembly/layout.ts (see there for meanings); a test
// checks every number against the constants the WebAssembly module exports.

export const P_RULE = 0;
export const P_GROUP = 1;
export const P_D = 2;
export const P_NORM = 3;
export const P_ROWSTEP = 4;
export const P_T = 5;
export const P_SLOTOFF = 6;
export const P_BIAS = 7;
export const P_ALPHA = 8;
export const P_B1 = 9;
export const P_OMB1 = 10;
export const P_B2 = 11;
export const P_OMB2 = 12;
export const P_EPS = 13;
export const P_MOM = 14;
export const P_L1 = 15;
export const P_L2X2 = 16;
export const P_L2 = 17;
export const P_THR = 18;
export const P_AGINIT = 19;
export const P_BIASCAP = 20;
export const M_SLOTS = 0; // index slots of 12 bytes: u64 key, u32 row + 1 (0 = empty)
export const M_CAP = 2; // power of two
export const M_SIZE = 3; // rows present
export const M_CHUNKS = 4; // u32[] byte address of each chunk of rows
export const M_SHIFT = 5; // rows per chunk = 1 << shift
export const M_RECBYTES = 6; // bytes per fused record
export const M_D = 7;
export const M_INIT = 8; // 0 zeros, 1 uniform, 2 normal
export const M_INITA = 10; // f64 at words 10-11 (8-byte aligned): low or mean
export const M_INITB = 12; // f64 at words 12-13: high or std
export const M_SEED = 14; // u32
export const M_ZEROS = 15; // rows whose weights are all exactly 0
// The moment rules' ids are defined with the rules.
export { R_SGD, R_MOMENTUM, R_ADAGRAD, R_ADAM, R_AMSGRAD, R_ADAHESSIAN } from "../math/rules/ids.js";
export const H_TAU = 0; // u32: step of the row's last update, 0 = never
export const H_ALPHA = 4; // f32: learning rate used at that update
export const H_COUNT = 8; // u32: number of updates of this row
export const H_FLAGS = 12; // u32: bit 0 = weights all exactly zero, bit 1 = row lock (shared tables)
export const ROW_LOCK = 2; // the row lock bit of H_FLAGS
export const HEADER_BYTES = 16;
export const TMP_S = 4096; // s of the current row, up to 1024 floats
export const TMP_DEN = 8192; // P + 2 l2 of the current row
export const TMP_REC = 12288; // one padded 4-lane chunk: x, g, h, slots
export const TMP_SINK = 16384; // where kernels store values loaded only to warm the cache
export const MAX_ROW = 1024;
export const HEAP_BASE = 65536;
