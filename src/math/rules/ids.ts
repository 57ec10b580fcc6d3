/**
 * The moment rules' ids: their order in RULES and the numbers the
 * WebAssembly kernels dispatch on (src/kernels/assembly/layout.ts holds the
 * same values).
 */
export const R_SGD = 0;
export const R_MOMENTUM = 1;
export const R_ADAGRAD = 2;
export const R_ADAM = 3;
export const R_AMSGRAD = 4;
export const R_ADAHESSIAN = 5;
