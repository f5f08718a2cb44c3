/** Calls `tick` just after every whole second of the wall clock (cron times and sample seconds are whole seconds). */
export function startSecondTicker(tick: () => void, offsetMs = 20): { stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const schedule = () => {
    if (stopped) return;
    const now = Date.now();
    timer = setTimeout(run, Math.floor(now / 1000) * 1000 + 1000 + offsetMs - now);
  };
  const run = () => {
    try {
      tick();
    } finally {
      schedule();
    }
  };
  schedule();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
