/** Trainable parameters and how their memory is provided. */

/**
 * A trainable parameter: `rows` x `rowLength` float32 values, row-major. A
 * weight matrix is stored [fanIn, fanOut], so a row holds the outgoing weights
 * of one input unit: one group of the group-lasso penalty.
 */
export interface Param {
  /** Unique within a model, e.g. "deep.0.weight". */
  readonly name: string;
  readonly rows: number;
  readonly rowLength: number;
  /** The weights (the array returned by the {@link ParamFactory}). */
  readonly value: Float32Array;
  /** d(loss)/d(value), overwritten by every backward call (never accumulated). */
  readonly grad: Float32Array;
}

/**
 * Provides the memory of a parameter: called once per parameter, at
 * construction, with its seeded initial values; the layer then reads and
 * trains the returned array (rows x rowLength floats), e.g. a view into an
 * optimizer's memory. The default returns `init` itself.
 */
export type ParamFactory = (name: string, rows: number, rowLength: number, init: Float32Array) => Float32Array;

/** The default factory: the parameter lives in its initial array. */
export const defaultParamFactory: ParamFactory = (_name, _rows, _rowLength, init) => init;

/** Creates a parameter through a factory, checking what the factory returned. */
export function createParam(
  factory: ParamFactory, name: string, rows: number, rowLength: number, init: Float32Array,
): Param {
  const value = factory(name, rows, rowLength, init);
  if (!(value instanceof Float32Array) || value.length !== rows * rowLength) {
    throw new RangeError(
      `parameter ${name}: the factory must return a Float32Array of ${rows} x ${rowLength} = ${rows * rowLength} floats`,
    );
  }
  return { name, rows, rowLength, value, grad: new Float32Array(rows * rowLength) };
}
