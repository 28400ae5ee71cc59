// DNS messages in and out of the server, through dns-packet: reading a query
// (or why it cannot be answered), building responses, and fitting a UDP answer
// into the size the client accepts.
import dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, OptAnswer, Packet, Question } from 'dns-packet';

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
export type Rcode = keyof typeof RCODE;

/** Without EDNS a UDP answer holds 512 bytes (RFC 1035); with it, what the client says, up to this. */
export const MAX_UDP_PAYLOAD = 4096;
/** What this server advertises in its own OPT record (the DNS flag day 2020 value). */
const ADVERTISED_PAYLOAD = 1232;

export interface ParsedQuery {
  id: number;
  /** RD and CD bits to echo. */
  echoFlags: number;
  question: Question;
  /** The client's OPT record, when it sent one. */
  edns?: OptAnswer;
}

export type QueryReading =
  | { ok: true; query: ParsedQuery }
  /** An answerable error (FORMERR, NOTIMP, BADVERS); `response` is ready to send. */
  | { ok: false; response: Buffer }
  /** Nothing to answer: too short for a header, or a response sent to us. */
  | { ok: false; response: undefined };

const ECHO_MASK = dnsPacket.RECURSION_DESIRED | dnsPacket.CHECKING_DISABLED;

function nameFits(name: string): boolean {
  const labels = name.replace(/\.$/, '').split('.');
  return Buffer.byteLength(name) <= 253 && labels.every((l) => Buffer.byteLength(l) <= 63);
}

function headerOnly(id: number, flags: number, rcode: number): Buffer {
  return dnsPacket.encode({ id, type: 'response', flags: (flags & ECHO_MASK) | rcode });
}

export function readQuery(msg: Buffer): QueryReading {
  if (msg.length < 2) return { ok: false, response: undefined };
  const id = msg.readUInt16BE(0);
  const rawFlags = msg.length >= 4 ? msg.readUInt16BE(2) : 0;
  if (rawFlags & 0x8000) return { ok: false, response: undefined };
  let p: DecodedPacket;
  try {
    p = dnsPacket.decode(msg);
  } catch {
    return { ok: false, response: headerOnly(id, rawFlags, RCODE.FORMERR) };
  }
  const opcode = (rawFlags >> 11) & 0xf;
  if (opcode !== 0) return { ok: false, response: headerOnly(id, rawFlags, RCODE.NOTIMP) };
  const questions = p.questions ?? [];
  if (questions.length !== 1 || !nameFits(questions[0].name)) return { ok: false, response: headerOnly(id, rawFlags, RCODE.FORMERR) };
  const opts = (p.additionals ?? []).filter((a): a is OptAnswer => a.type === 'OPT');
  if (opts.length > 1) return { ok: false, response: headerOnly(id, rawFlags, RCODE.FORMERR) };
  const edns = opts[0];
  const query: ParsedQuery = { id, echoFlags: rawFlags & ECHO_MASK, question: { name: questions[0].name, type: questions[0].type, class: questions[0].class }, edns };
  if (edns && edns.ednsVersion !== 0) {
    // BADVERS (16): the upper 8 bits of the extended rcode go in the OPT record (RFC 6891).
    const response = dnsPacket.encode({
      id,
      type: 'response',
      flags: query.echoFlags,
      questions: [query.question],
      additionals: [{ name: '.', type: 'OPT', udpPayloadSize: ADVERTISED_PAYLOAD, extendedRcode: 1, ednsVersion: 0, flags: 0, flag_do: false, options: [] }],
    });
    return { ok: false, response };
  }
  return { ok: true, query };
}

/** The largest UDP answer this client takes. */
export function udpLimit(query: ParsedQuery): number {
  if (!query.edns) return 512;
  return Math.min(MAX_UDP_PAYLOAD, Math.max(512, query.edns.udpPayloadSize));
}

export interface ResponseParts {
  rcode: Rcode;
  authoritative?: boolean;
  answers?: Answer[];
  authorities?: Answer[];
  additionals?: Answer[];
}

function packetFor(query: ParsedQuery, parts: ResponseParts, truncated: boolean): Packet {
  let flags = query.echoFlags | dnsPacket.RECURSION_AVAILABLE | RCODE[parts.rcode];
  if (parts.authoritative) flags |= dnsPacket.AUTHORITATIVE_ANSWER;
  if (truncated) flags |= dnsPacket.TRUNCATED_RESPONSE;
  const additionals = [...(parts.additionals ?? [])];
  if (query.edns) {
    additionals.push({ name: '.', type: 'OPT', udpPayloadSize: ADVERTISED_PAYLOAD, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] });
  }
  return { id: query.id, type: 'response', flags, questions: [query.question], answers: parts.answers ?? [], authorities: parts.authorities ?? [], additionals };
}

/**
 * Encodes a response; with a limit (UDP), drops additional records and then
 * trailing answers until it fits, and sets TC when anything was dropped, so the
 * client retries over TCP.
 */
export function encodeResponse(query: ParsedQuery, parts: ResponseParts, limit?: number): Buffer {
  const full = dnsPacket.encode(packetFor(query, parts, false));
  if (limit === undefined || full.length <= limit) return full;
  const answers = [...(parts.answers ?? [])];
  for (;;) {
    const buf = dnsPacket.encode(packetFor(query, { rcode: parts.rcode, authoritative: parts.authoritative, answers }, true));
    if (buf.length <= limit || answers.length === 0) return buf;
    answers.pop();
  }
}

export function errorResponse(query: ParsedQuery, rcode: Rcode): Buffer {
  return encodeResponse(query, { rcode });
}

/** The TC bit of a raw message (an upstream's answer). */
export function isTruncated(msg: Buffer): boolean {
  return msg.length >= 4 && (msg.readUInt16BE(2) & dnsPacket.TRUNCATED_RESPONSE) !== 0;
}
