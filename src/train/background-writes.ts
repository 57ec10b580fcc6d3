/**
 * The checkpoints a trainer writes in the background (TrainControl.checkpoint
 * may return the write in progress, the state copied already): one write at
 * a time, the next one after the last is done, and a failed write fails the
 * run at the trainer's next checkpoint or its end.
 */
export class BackgroundWrites {
  private pending: Promise<void> | undefined;
  private failure: { error: unknown } | undefined;

  /** Takes a checkpoint with `write` once the previous one is on disk (throwing the previous one's failure). */
  async take(write: () => void | Promise<void>): Promise<void> {
    await this.settle();
    const p = write();
    // Caught at once (no unhandled rejection while training goes on); thrown by settle.
    if (p !== undefined) this.pending = p.then(() => undefined, (error: unknown) => { this.failure ??= { error }; });
  }

  /** Waits for the write in progress; throws the failure of a write, if one failed. */
  async settle(): Promise<void> {
    const p = this.pending;
    this.pending = undefined;
    if (p !== undefined) await p;
    if (this.failure !== undefined) throw this.failure.error;
  }
}
