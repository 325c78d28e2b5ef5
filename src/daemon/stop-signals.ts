/**
 * SIGTERM / SIGINT handling for long-running commands: the first signal asks for an orderly stop, a second
 * one exits at once.
 */

/**
 * Calls `stop` on the first SIGTERM or SIGINT; on a second signal exits at once with 128 + the signal's
 * number (130 for SIGINT, 143 for SIGTERM). Returns a function that removes the handlers.
 */
export function onStopSignals(stop: (signal: NodeJS.Signals) => void): () => void {
  let stopping = false;
  const handle = (signal: NodeJS.Signals): void => {
    if (stopping) process.exit(signal === 'SIGINT' ? 130 : 143);
    stopping = true;
    stop(signal);
  };
  process.on('SIGTERM', handle);
  process.on('SIGINT', handle);
  return () => {
    process.off('SIGTERM', handle);
    process.off('SIGINT', handle);
  };
}
