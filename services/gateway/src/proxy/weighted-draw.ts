/**
 * Draws one of several choices in proportion to integer weights, exactly: the weights are dealt as a deck of
 * `sum(weights)` cards, and each draw takes a card at random without putting it back. Over every full deck
 * each choice is drawn exactly its weight in times (10 of 100 for a 10 % canary), so the share over many
 * requests is exact, not within a random error; inside a deck the order is random, so no regular pattern of
 * the clients (every tenth request of a kind) lines up with the choice the way a fixed rotation would. A new
 * set of weights (a weight changed, a choice became unavailable) starts a new deck. See ADR 0041.
 */
export class WeightedDraw {
  readonly #random: () => number;
  #weights: number[] = [];
  #left: number[] = [];
  #cards = 0;

  /** @param random uniform in [0, 1); tests pass a seeded one. */
  constructor(random: () => number = Math.random) {
    this.#random = random;
  }

  /**
   * The index of the choice drawn, or -1 when every weight is 0. `weights` are whole numbers, one per choice
   * (0 for a choice that cannot be drawn now); the caller may reuse the array between calls.
   */
  draw(weights: readonly number[]): number {
    if (!this.#sameWeights(weights)) {
      this.#weights = [...weights];
      this.#cards = 0;
    }
    if (this.#cards === 0) {
      this.#left = [...this.#weights];
      for (const weight of this.#weights) this.#cards += weight;
      if (this.#cards === 0) return -1;
    }
    let card = Math.floor(this.#random() * this.#cards);
    const left = this.#left;
    for (let i = 0; i < left.length; i++) {
      const count = left[i]!;
      if (card < count) {
        left[i] = count - 1;
        this.#cards--;
        return i;
      }
      card -= count;
    }
    // Only reached if random() returned 1: take the last choice that has a card.
    for (let i = left.length - 1; i >= 0; i--) {
      if (left[i]! > 0) {
        left[i]!--;
        this.#cards--;
        return i;
      }
    }
    return -1;
  }

  #sameWeights(weights: readonly number[]): boolean {
    const current = this.#weights;
    if (current.length !== weights.length) return false;
    for (let i = 0; i < weights.length; i++) if (current[i] !== weights[i]) return false;
    return true;
  }
}
