/** Runs f, giving its errors (a config's, a state's or a model's checks) the name of what is loaded: "what: message". */
export function namedErrors<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (!(e instanceof Error) || e.message.startsWith(what)) throw e;
    throw new (e instanceof TypeError ? TypeError : RangeError)(`${what}: ${e.message}`);
  }
}
