/**
 * The networks the page can train: the presets, and any network file the user gives
 * it (checked whole by the same parseNetwork() as the command line's --arch FILE.json,
 * its error shown in the page), or that a loaded model or checkpoint records. The
 * recipe's `arch` names one of them.
 */
import { networkJson, NETWORKS, networkNamed, parseNetwork, sameNetwork, type Network } from '../src/model/network';

export class PageNetworks {
  private readonly added = new Map<string, Network>();

  /** Every network by name: the presets, then the added ones. */
  list(): Network[] {
    return [...NETWORKS, ...this.added.values()];
  }

  get(name: string): Network {
    return this.added.get(name) ?? networkNamed(name, 'network');
  }

  /**
   * Adds a network (a file's, a model's) under its name; a name already taken by
   * another description is refused (a preset's name must mean the preset).
   */
  add(net: Network): Network {
    const known = this.added.get(net.name) ?? NETWORKS.find((n) => n.name === net.name);
    if (known) {
      if (sameNetwork(known, net)) return known;
      if (NETWORKS.includes(known)) throw new Error(`its name "${net.name}" is a preset's: give the network a name of its own`);
    }
    this.added.set(net.name, net);
    return net;
  }

  /** A network file's text, read as --arch FILE.json reads it. */
  read(text: string, file: string): Network {
    return this.add(parseNetwork(text, file));
  }

  /** What `network --json` prints of it: what a network file holds. */
  json(name: string): string {
    return networkJson(this.get(name));
  }
}
