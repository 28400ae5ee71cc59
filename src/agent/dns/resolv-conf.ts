// resolv.conf(5), read and written: the DNS server takes its default upstreams
// from the host's file, and the kubelet merges a pod's dnsConfig into it.

export interface ResolvConf {
  nameservers: string[];
  searches: string[];
  /** `ndots:5`, `edns0`: as written after `options`. */
  options: string[];
}

/** Later `search`/`domain` lines replace earlier ones, as the C resolver does. */
export function parseResolvConf(text: string): ResolvConf {
  const out: ResolvConf = { nameservers: [], searches: [], options: [] };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    if (!line) continue;
    const [key, ...values] = line.split(/\s+/);
    if (key === 'nameserver' && values[0]) out.nameservers.push(values[0]);
    else if (key === 'search') out.searches = values;
    else if (key === 'domain' && values[0]) out.searches = [values[0]];
    else if (key === 'options') out.options.push(...values);
  }
  return out;
}
