/**
 * XMPP client streams (RFC 6120 §5.4): open a stream to the domain, find `<starttls
 * xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>` among the stream features, send `<starttls/>`, wait for
 * `<proceed/>` (`<failure/>` is a refusal). No XML parser: the few elements are found by pattern in
 * at most the dialogue's byte bound, which is all this exchange needs.
 */
import { quoteAnswer, StarttlsError } from './errors.js';
import type { PlaintextChannel } from './lines.js';

const TLS_NS = 'urn:ietf:params:xml:ns:xmpp-tls';

/** XML attribute value escaping for the domain (already a DNS name or IP literal; kept safe anyway). */
function xmlAttribute(value: string): string {
  return value.replace(/[&<>'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function streamHeader(domain: string): string {
  return (
    `<?xml version='1.0'?><stream:stream to='${xmlAttribute(domain)}' version='1.0' xml:lang='en' ` +
    `xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`
  );
}

/** The end of the features element (or of the stream, with an error in it). */
const FEATURES_END = /<\/(?:[\w-]+:)?features\s*>|<(?:[\w-]+:)?features\b[^>]*\/>|<\/(?:[\w-]+:)?error\s*>|<\/(?:[\w-]+:)?stream\s*>/;
const STARTTLS_FEATURE = new RegExp(`<starttls\\b[^>]*xmlns\\s*=\\s*(['"])${TLS_NS.replace(/[.:]/g, '\\$&')}\\1`);
const ANSWER = /<proceed\b[^>]*?(?:\/>|>\s*<\/proceed\s*>)|<failure\b[^>]*?(?:\/>|>[\s\S]*?<\/failure\s*>)|<\/(?:[\w-]+:)?stream\s*>/;

export async function xmppStarttls(channel: PlaintextChannel, domain: string): Promise<void> {
  channel.write(streamHeader(domain));
  const { text, match } = await channel.readThrough(FEATURES_END);
  if (!/features/.test(match[0])) throw new StarttlsError('ERR_STARTTLS_REFUSED', `the XMPP server ended the stream: ${quoteAnswer(text)}`);
  const features = text.slice(text.search(/<(?:[\w-]+:)?features\b/));
  if (!STARTTLS_FEATURE.test(features)) {
    throw new StarttlsError('ERR_STARTTLS_NOT_OFFERED', `the XMPP server does not offer STARTTLS; stream features: ${quoteAnswer(features)}`);
  }
  channel.write(`<starttls xmlns='${TLS_NS}'/>`);
  const answer = await channel.readThrough(ANSWER);
  if (!answer.match[0].startsWith('<proceed')) throw new StarttlsError('ERR_STARTTLS_REFUSED', `the XMPP server refused STARTTLS: ${quoteAnswer(answer.text)}`);
}
