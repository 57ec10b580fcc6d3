// Memory layout shared by the WebAssembly kernels and their TypeScript twins
// (src/kernels/layout.ts holds the same numbers; a test checks they agree by
// reading these exported globals).

// Update parameter block: 32-bit words at params + 4 * P_*.
export const P_RULE: i32 = 0;
export const P_GROUP: i32 = 1;
export const P_D: i32 = 2;
export const P_NORM: i32 = 3;
export const P_ROWSTEP: i32 = 4;
export const P_T: i32 = 5;
export const P_SLOTOFF: i32 = 6;
export const P_BIAS: i32 = 7;
export const P_ALPHA: i32 = 8;
export const P_B1: i32 = 9;
export const P_OMB1: i32 = 10;
export const P_B2: i32 = 11;
export const P_OMB2: i32 = 12;
export const P_EPS: i32 = 13;
export const P_MOM: i32 = 14;
export const P_L1: i32 = 15;
export const P_L2X2: i32 = 16;
export const P_L2: i32 = 17;
export const P_THR: i32 = 18;
export const P_AGINIT: i32 = 19;
// Entries in the bias-correction table: steps past it read its last entry
// (exactly 1.0 in float32 once beta^tau is negligible, so nothing changes).
export const P_BIASCAP: i32 = 20;

// Table meta block: 32-bit words at meta + 4 * M_*.
export const M_SLOTS: i32 = 0; // index slots of 12 bytes: u64 key, u32 row + 1 (0 = empty)
export const M_CAP: i32 = 2; // power of two
export const M_SIZE: i32 = 3; // rows present
export const M_CHUNKS: i32 = 4; // u32[] byte address of each chunk of rows
export const M_SHIFT: i32 = 5; // rows per chunk = 1 << shift
export const M_RECBYTES: i32 = 6; // bytes per fused record
export const M_D: i32 = 7;
export const M_INIT: i32 = 8; // 0 zeros, 1 uniform, 2 normal
export const M_INITA: i32 = 10; // f64 at words 10-11 (8-byte aligned): low or mean
export const M_INITB: i32 = 12; // f64 at words 12-13: high or std
export const M_SEED: i32 = 14; // u32
export const M_ZEROS: i32 = 15; // rows whose weights are all exactly 0

// Rules.
export const R_SGD: i32 = 0;
export const R_MOMENTUM: i32 = 1;
export const R_ADAGRAD: i32 = 2;
export const R_ADAM: i32 = 3;
export const R_AMSGRAD: i32 = 4;
export const R_ADAHESSIAN: i32 = 5;

// Row header: 16 bytes before the slots of every row's state record.
export const H_TAU: i32 = 0; // u32: step of the row's last update, 0 = never
export const H_ALPHA: i32 = 4; // f32: learning rate used at that update
export const H_COUNT: i32 = 8; // u32: number of updates of this row
export const H_FLAGS: i32 = 12; // u32: bit 0 = weights all exactly zero, bit 1 = row lock (shared tables)
export const ROW_LOCK: u32 = 2; // the row lock bit of H_FLAGS
export const HEADER_BYTES: i32 = 16;

// Scratch space in the first page (the JS heap starts at 65536).
export const TMP_S: usize = 4096; // s of the current row, up to 1024 floats
export const TMP_DEN: usize = 8192; // P + 2 l2 of the current row
export const TMP_REC: usize = 12288; // one padded 4-lane chunk: x, g, h, slots
export const TMP_SINK: usize = 16384; // where kernels store values loaded only to warm the cache
export const MAX_ROW: i32 = 1024;
export const HEAP_BASE: i32 = 65536;
