/**
 * A value loaded once, on first use, and shared by every caller; a load that fails is not kept
 * (each caller of that attempt gets its error, and the next call loads again), so one failure
 * does not refuse every later use until the process restarts.
 *
 * @example const shell = lazyRetrying(shellInspector); const inspect = await shell();
 */
export function lazyRetrying<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () => {
    if (loading !== undefined) return loading;
    const attempt = load().catch((err: unknown) => {
      if (loading === attempt) loading = undefined;
      throw err;
    });
    loading = attempt;
    return attempt;
  };
}
