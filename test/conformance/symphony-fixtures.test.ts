// Conformance with the Symphony SDK fixtures in ../shared/fixtures/symphony (BDK Java/Python, messageml-utils;
// see PROVENANCE.md there): every V4Event parses, every V4Message validates and its PresentationML/EntityJSON
// parse, and the EntityJSON fixtures give the entities the BDK would find.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Token } from '../../src/events/event.ts';
import { parseWireEvent } from '../../src/events/parse-wire-event.ts';
import { parseEntityJSON, parsePresentationML } from '../../src/events/presentation-ml.ts';
import { listUnknownFields } from '../../src/events/unknown-fields.ts';
import { v4MessageSchema, v5EventListSchema } from '../../src/events/wire-schema.ts';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const fixturesDir = path.join(path.resolve(repoRoot, '../shared'), 'fixtures', 'symphony');
const exists = existsSync(fixturesDir);
if (!exists) {
  console.warn(`symphony-fixtures: skipped, the shared fixtures folder ${fixturesDir} does not exist in this checkout`);
}

/** Every file under `dir`, by base name (the fixture names are unique across the folder). */
function filesByName(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) files.set(entry.name, path.join(entry.parentPath, entry.name));
  }
  return files;
}

const ROOT = '<div data-format="PresentationML" data-version="2.0">';
const entitySpan = (id: string, text: string): string => `<span class="entity" data-entity-id="${id}">${text}</span>`;

describe.skipIf(!exists)('Symphony SDK fixtures', () => {
  const files = exists ? filesByName(fixturesDir) : new Map<string, string>();
  const readJSON = (name: string): unknown => {
    const file = files.get(name);
    if (file === undefined) throw new Error(`fixture ${name} not found under ${fixturesDir}`);
    return JSON.parse(readFileSync(file, 'utf8')) as unknown;
  };

  /** The V4Events of the datafeed fixtures: DF v1 is a bare array, v2/v5 are read responses (V5EventList). */
  const events = (): { source: string; raw: unknown }[] => {
    const found: { source: string; raw: unknown }[] = [];
    const v1 = readJSON('read_datafeed.json');
    expect(Array.isArray(v1)).toBe(true);
    (v1 as unknown[]).forEach((raw, index) => found.push({ source: `read_datafeed.json[${index}]`, raw }));
    for (const name of ['read_datafeedv2.json', 'read_datafeedv5.json']) {
      const list = v5EventListSchema.parse(readJSON(name));
      (list.events ?? []).forEach((raw, index) => found.push({ source: `${name}[${index}]`, raw }));
    }
    return found;
  };

  it('parses every V4Event of the datafeed fixtures', () => {
    const found = events();
    expect(found.length).toBeGreaterThan(0);
    for (const { source, raw } of found) {
      const event = parseWireEvent(raw);
      expect(event, source).not.toBeNull();
      expect(event?.type, source).toBe((raw as { type: unknown }).type);
      if (event?.type !== 'MESSAGESENT') continue;
      expect(event.message.text, source).toBe('Hello World');
      expect(event.message.cashtags, source).toEqual([]);
      expect(event.dedupeKey, source).toBe(`message:${event.message.messageId}`);
      expect(event.conversationId, source).toBe(event.message.stream.streamId);
    }
  });

  it('finds no undeclared fields in the datafeed fixtures', () => {
    for (const { source, raw } of events()) expect(listUnknownFields(raw), source).toEqual([]);
  });

  it('validates every V4Message fixture and parses its PresentationML and EntityJSON', () => {
    const messages: { source: string; raw: unknown }[] = [];
    for (const name of ['message.json', 'send_message.json', 'update_message.json']) {
      messages.push({ source: name, raw: readJSON(name) });
    }
    const list = readJSON('list_messages.json');
    expect(Array.isArray(list)).toBe(true);
    (list as unknown[]).forEach((raw, index) => messages.push({ source: `list_messages.json[${index}]`, raw }));
    const blast = readJSON('blast_message.json') as { messages?: unknown };
    expect(Array.isArray(blast.messages)).toBe(true);
    (blast.messages as unknown[]).forEach((raw, index) => messages.push({ source: `blast_message.json[${index}]`, raw }));

    expect(messages.length).toBeGreaterThanOrEqual(6);
    for (const { source, raw } of messages) {
      const message = v4MessageSchema.parse(raw);
      const { text, tokens } = parsePresentationML(message.message, parseEntityJSON(message.data));
      expect(text, source).toMatch(/^(Hello,? [Ww]orld!?|A message)$/);
      expect(tokens.every((token) => token.kind === 'word'), source).toBe(true);
    }
  });

  it('resolves message_entity_data.json into 2 mentions, 1 hashtag, 1 cashtag and the emoji as text', () => {
    const entityJSON = parseEntityJSON(JSON.stringify(readJSON('message_entity_data.json')));
    const message =
      `${ROOT}${entitySpan('0', '@Jane Doe')} hi ${entitySpan('1', '#bot')} ${entitySpan('2', '$hello')} ` +
      `${entitySpan('3', '😀')} ${entitySpan('4', '@John')}</div>`;
    const { text, tokens } = parsePresentationML(message, entityJSON);
    expect(text).toBe('@Jane Doe hi #bot $hello 😀 @John');
    expect(tokens).toEqual<Token[]>([
      { kind: 'mention', text: '@Jane Doe', userId: '13056700580915', displayName: 'Jane Doe' },
      { kind: 'word', text: 'hi' },
      { kind: 'hashtag', text: '#bot', value: 'bot' },
      { kind: 'cashtag', text: '$hello', value: 'hello' },
      { kind: 'word', text: '😀' },
      { kind: 'mention', text: '@John', userId: '1305690252351', displayName: 'John' },
    ]);
  });

  it('finds no cashtags in several_financial_securities.json (no ticker ids)', () => {
    const entityJSON = parseEntityJSON(JSON.stringify(readJSON('several_financial_securities.json')));
    const keys = Object.keys(entityJSON);
    expect(keys.sort()).toEqual(['123', '321', '456', '789']);
    const message = `${ROOT}${keys.map((key) => entitySpan(key, `$S${key}`)).join(' ')}</div>`;
    const { tokens } = parsePresentationML(message, entityJSON);
    expect(tokens).toEqual(keys.map((key) => ({ kind: 'word', text: `$S${key}` })));
  });
});
