import type { GroupEntry } from "./route-table.js";
import { WeightedDraw } from "./weighted-draw.js";

/** What a group needs to know of a member's route. */
export interface GroupMemberRoute {
  readonly routable: boolean;
}

/**
 * A service group as the proxy routes it: its token digest and its members, each request going to one member
 * drawn by weight among the members that have a Ready instance ({@link WeightedDraw}: exact shares). The
 * member's own route then does the rest (its canary, limits, queue); its token is not asked for, the group's is.
 */
export class GroupRoute {
  readonly name: string;
  #entry: GroupEntry;
  #tokenDigest: Buffer;
  readonly #draw: WeightedDraw;
  /** One weight per member, rewritten by every draw (0 for a member that cannot take a request now). */
  #weights: number[];

  constructor(entry: GroupEntry, random: () => number = Math.random) {
    this.name = entry.group;
    this.#entry = entry;
    this.#tokenDigest = Buffer.from(entry.tokenSha256, "hex");
    this.#draw = new WeightedDraw(random);
    this.#weights = entry.members.map(() => 0);
  }

  get entry(): GroupEntry {
    return this.#entry;
  }

  /** SHA-256 of the group's token. */
  get tokenDigest(): Buffer {
    return this.#tokenDigest;
  }

  update(entry: GroupEntry): void {
    if (entry.tokenSha256 !== this.#entry.tokenSha256) this.#tokenDigest = Buffer.from(entry.tokenSha256, "hex");
    this.#entry = entry;
    this.#weights = entry.members.map(() => 0);
  }

  /** The member the next request goes to, or undefined when no member with a weight has a Ready instance. */
  drawMember<R extends GroupMemberRoute>(routeOf: (service: string) => R | undefined): R | undefined {
    const members = this.#entry.members;
    const weights = this.#weights;
    const routes: (R | undefined)[] = [];
    for (let i = 0; i < members.length; i++) {
      const member = members[i]!;
      const route = routeOf(member.service);
      routes.push(route);
      weights[i] = route?.routable ? member.weight : 0;
    }
    const drawn = this.#draw.draw(weights);
    return drawn < 0 ? undefined : routes[drawn];
  }
}
