/**
 * Checks recorded HTTP exchanges against the official Symphony OpenAPI specs in ../shared/spec/symphony with
 * openapi-backend: each call is matched to a spec operation (path template + method), its request (path,
 * query, headers, JSON or multipart body) and its response (status, content type, body schema) are validated.
 *
 * Mounts (how the specs' paths sit on the pod's single origin): the Agent API under its `servers` base
 * (`/agent`); the Login API (Swagger 2.0, converted to OpenAPI 3 with swagger2openapi at load time) under
 * `/login` on the pod and `/relay` on the key manager (LOGIN spec description, PROVENANCE.md).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { OpenAPIBackend, ValidationContext, type Document, type Operation } from 'openapi-backend';
import { convertObj } from 'swagger2openapi';
import { parse as parseYaml } from 'yaml';
import type { Exchange } from '../support/recording-proxy.ts';

/** The verdict on one exchange. */
export type ExchangeCheck = {
  readonly exchange: Exchange;
  /** `METHOD path` as sent, without the query (`POST /agent/v5/datafeeds/abc_f/read`). */
  readonly call: string;
  /** The spec operation, `METHOD <mount><path template>` (`POST /agent/v5/datafeeds/{datafeedId}/read`). */
  readonly operation: string | undefined;
  /** Why the exchange was not validated, when no spec in ../shared covers it (then `operation` is undefined). */
  readonly unvalidated: string | undefined;
  /** Conformance failures of the request (routing included); empty when it conforms. */
  readonly requestProblems: readonly string[];
  /** Conformance failures of the response; empty when it conforms or there was none. */
  readonly responseProblems: readonly string[];
  /** A non-2xx status the operation does not document (its body was checked against the API's error schema). */
  readonly undocumentedStatus: number | undefined;
  /** Oddities of the spec met on the way (not failures). */
  readonly notes: readonly string[];
};

/** The loaded specs. */
export type SymphonySpecs = {
  /** Checks one exchange (the multipart parsing is asynchronous). */
  check(exchange: Exchange): Promise<ExchangeCheck>;
};

/** Path prefixes served by the pod whose spec is not in ../shared, with the reason. */
const UNSPECIFIED: readonly { readonly prefix: string; readonly reason: string }[] = [
  {
    prefix: '/pod',
    reason:
      'the Pod API spec (finos/symphony-api-spec pod/pod-api-public.yaml) is not among the specs in ' +
      '../shared/spec/symphony (PROVENANCE.md lists it as not copied)',
  },
];

type Mount = {
  readonly prefix: string;
  readonly api: OpenAPIBackend;
  /** The API's error body schema (dereferenced), for statuses an operation does not document. */
  readonly errorSchemaName: string;
};

const NO_PROBLEMS = { requestProblems: [], responseProblems: [], notes: [] } as const;

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/**
 * Loads the Agent API (OpenAPI 3.0.1) and the Login API (Swagger 2.0, converted) from `specDir`
 * (`../shared/spec/symphony`), and builds one openapi-backend per mount.
 *
 * openapi-backend only validates operations that have an `operationId`; the specs leave it out on some
 * operations (message create and list, every Login operation), so those get `METHOD path` as their id in the
 * parsed copy (the files are only read).
 */
export async function loadSymphonySpecs(specDir: string): Promise<SymphonySpecs> {
  const read = (file: string): unknown => parseYaml(readFileSync(path.join(specDir, file), 'utf8'));
  const agent = read('agent/agent-api-public.yaml') as Record<string, unknown>;
  const swagger = read('login/login-api-public.yaml') as Parameters<typeof convertObj>[0];
  const { openapi: login } = await convertObj(swagger, { patch: false, warnOnly: false });

  const agentRoot = agentBasePath(agent);
  const mounts: Mount[] = [
    { prefix: agentRoot, api: await backend(agent, agentRoot), errorSchemaName: 'V2Error' },
    { prefix: '/login', api: await backend(structuredClone(login), '/login'), errorSchemaName: 'Error' },
    { prefix: '/relay', api: await backend(structuredClone(login), '/relay'), errorSchemaName: 'Error' },
  ];

  return {
    async check(exchange) {
      const [pathname = '/'] = exchange.url.split('?');
      const call = `${exchange.method} ${pathname}`;
      const verdict = { exchange, call, operation: undefined, unvalidated: undefined, undocumentedStatus: undefined };
      const under = (prefix: string): boolean => pathname === prefix || pathname.startsWith(`${prefix}/`);
      const mount = mounts.find((m) => under(m.prefix));
      if (mount === undefined) {
        const unspecified = UNSPECIFIED.find((u) => under(u.prefix));
        if (unspecified !== undefined) return { ...verdict, unvalidated: unspecified.reason, ...NO_PROBLEMS };
        return { ...verdict, ...NO_PROBLEMS, requestProblems: [`no spec in ../shared covers ${call}`] };
      }
      const operation = mount.api.router.matchOperation({
        method: exchange.method,
        path: exchange.url,
        headers: headersOf(exchange.headers),
      });
      if (operation === undefined) {
        const problem = `no operation of the spec mounted at ${mount.prefix} matches ${call}`;
        return { ...verdict, ...NO_PROBLEMS, requestProblems: [problem] };
      }
      const name = `${operation.method.toUpperCase()} ${mount.prefix}${operation.path}`;
      const requestProblems = await checkRequest(mount.api, operation, exchange);
      const answer =
        exchange.response === undefined
          ? { problems: [], notes: [], undocumentedStatus: undefined }
          : checkResponse(mount, operation, exchange.response);
      return {
        ...verdict,
        operation: name,
        requestProblems: requestProblems.map((p) => `${name}: ${p}`),
        responseProblems: answer.problems.map((p) => `${name}: ${p}`),
        undocumentedStatus: answer.undocumentedStatus,
        notes: answer.notes.map((n) => `${name}: ${n}`),
      };
    },
  };
}

/** The path of the Agent spec's server URL (`youragentURL.symphony.com/agent` → `/agent`). */
function agentBasePath(agent: Record<string, unknown>): string {
  const url = at(agent, 'servers', 0, 'url');
  if (typeof url !== 'string') throw new Error('agent spec: servers[0].url is missing');
  const withoutScheme = url.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const slash = withoutScheme.indexOf('/');
  return slash < 0 ? '/' : withoutScheme.slice(slash).replace(/\/+$/, '');
}

async function backend(definition: object, apiRoot: string): Promise<OpenAPIBackend> {
  addMissingOperationIds(definition);
  const api = new OpenAPIBackend({
    definition: definition as Document,
    apiRoot,
    strict: true, // an invalid spec fails the load instead of logging a warning
    ajvOpts: { allErrors: true },
    customizeAjv: (ajv) => {
      // Formats of the Agent spec unknown to Ajv: EntityJSON data must be JSON; MessageML is not checked here.
      ajv.addFormat('JSON', (value: string) => isJson(value));
      ajv.addFormat('MessageMLV2', () => true);
      ajv.addFormat('MessageML', () => true);
      return ajv;
    },
  });
  await api.init();
  return api;
}

function addMissingOperationIds(definition: object): void {
  const paths = at(definition, 'paths');
  if (!isRecord(paths)) return;
  for (const [template, item] of Object.entries(paths)) {
    for (const method of METHODS) {
      const operation = at(item, method);
      if (isRecord(operation) && operation['operationId'] === undefined) {
        operation['operationId'] = `${method.toUpperCase()} ${template}`;
      }
    }
  }
}

async function checkRequest(api: OpenAPIBackend, operation: Operation, exchange: Exchange): Promise<string[]> {
  const problems: string[] = [];
  const requestBody = at(operation, 'requestBody');
  const declared = at(requestBody, 'content');
  const mediaTypes = isRecord(declared) ? Object.keys(declared) : [];
  const contentType = header(exchange.headers, 'content-type');
  const mediaType = mediaTypeOf(contentType);
  let body: unknown;

  if (exchange.body.length === 0) {
    if (at(requestBody, 'required') === true) problems.push('request: the body is required and none was sent');
  } else if (mediaTypes.length === 0) {
    problems.push('request: a body was sent but the operation takes none');
  } else if (mediaType === undefined || !mediaTypes.includes(mediaType)) {
    problems.push(`request: content-type ${contentType ?? '(none)'} is not one of ${mediaTypes.join(', ')}`);
  } else if (mediaType === 'multipart/form-data') {
    const form = await checkMultipart(at(declared, mediaType, 'schema'), contentType ?? '', exchange.body);
    problems.push(...form.problems);
    body = form.fields;
  } else {
    body = exchange.body.toString('utf8'); // JSON: openapi-backend parses it and reports a parse error
  }

  const result = api.validateRequest(
    { method: exchange.method, path: exchange.url, headers: headersOf(exchange.headers), body },
    operation,
  );
  for (const error of result.errors ?? []) problems.push(`request: ${describeError(error)}`);
  return problems;
}

/**
 * Parses a multipart body as the pod does (`new Request(...).formData()`) and checks its field names against
 * the schema's `properties` and `required`: an unknown name, a repeated name, a missing required field or a
 * text field sent as a file part is a problem. Returns the text fields for the schema validation.
 */
async function checkMultipart(
  schema: unknown,
  contentType: string,
  raw: Buffer,
): Promise<{ problems: string[]; fields: Record<string, string> }> {
  const problems: string[] = [];
  const fields: Record<string, string> = {};
  let form: FormData;
  try {
    form = await new Request('http://conformance.invalid/', {
      method: 'POST',
      headers: { 'content-type': contentType },
      body: new Uint8Array(raw),
    }).formData();
  } catch (err) {
    return { problems: [`request: the multipart/form-data body does not parse (${String(err)})`], fields };
  }
  const properties = at(schema, 'properties');
  const known = isRecord(properties) ? Object.keys(properties) : [];
  const required = at(schema, 'required');
  const names = [...form.keys()];
  for (const name of new Set(names)) {
    const field = `request: form field "${name}"`;
    if (!known.includes(name)) problems.push(`${field} is not in the spec's schema (${known.join(', ')})`);
    if (names.filter((n) => n === name).length > 1) problems.push(`${field} is sent more than once`);
    const value = form.get(name);
    const binary = at(properties, name, 'format') === 'binary';
    if (typeof value === 'string') fields[name] = value;
    else if (!binary && known.includes(name)) problems.push(`${field} is a file part; the spec types it as text`);
  }
  for (const name of Array.isArray(required) ? required : []) {
    if (typeof name === 'string' && !names.includes(name)) {
      problems.push(`request: required form field "${name}" is missing`);
    }
  }
  return { problems, fields };
}

function checkResponse(
  mount: Mount,
  operation: Operation,
  response: NonNullable<Exchange['response']>,
): { problems: string[]; notes: string[]; undocumentedStatus: number | undefined } {
  const problems: string[] = [];
  const notes: string[] = [];
  const { status } = response;
  const ok = status >= 200 && status < 300;
  const responses = at(operation, 'responses');
  const documented = at(responses, String(status));
  const schema = at(documented, 'content', 'application/json', 'schema');

  if (!isRecord(documented)) {
    const listed = isRecord(responses) ? Object.keys(responses).join(', ') : 'none';
    if (ok) {
      problems.push(`response: HTTP ${status} is not a documented response (documented: ${listed})`);
      return { problems, notes, undocumentedStatus: undefined };
    }
    // Not documented for this operation: the body must still be the API's error object.
    const errorSchema = at(mount.api.definition, 'components', 'schemas', mount.errorSchemaName);
    const body = jsonBody(response, problems);
    if (body !== undefined) {
      const validate = mount.api.validator.getAjv(ValidationContext.Response).compile(errorSchema as object);
      if (!validate(body.value)) {
        for (const error of validate.errors ?? []) {
          problems.push(`response ${status} as ${mount.errorSchemaName}: ${describeError(error)}`);
        }
      }
    }
    return { problems, notes, undocumentedStatus: status };
  }

  if (status === 204) {
    // RFC 9110 §15.3.5: a 204 has no content, whatever schema the spec attaches to it.
    if (response.body.length > 0) problems.push('response: HTTP 204 carries a body');
    if (schema !== undefined) {
      notes.push('the spec gives its 204 response a JSON schema; a 204 has no content (RFC 9110 §15.3.5): not checked');
    }
    return { problems, notes, undocumentedStatus: undefined };
  }
  if (schema === undefined) {
    if (response.body.length > 0) problems.push(`response: HTTP ${status} has a body but the spec documents none`);
    return { problems, notes, undocumentedStatus: undefined };
  }
  const body = jsonBody(response, problems);
  if (body !== undefined) {
    const result = mount.api.validateResponse(body.value, operation, status);
    for (const error of result.errors ?? []) {
      problems.push(`response ${status}: ${describeError(error)}`);
    }
  }
  return { problems, notes, undocumentedStatus: undefined };
}

/** The JSON body of a response that must be `application/json`; problems when it is not. */
function jsonBody(response: NonNullable<Exchange['response']>, problems: string[]): { value: unknown } | undefined {
  const contentType = header(response.headers, 'content-type');
  if (mediaTypeOf(contentType) !== 'application/json') {
    problems.push(`response ${response.status}: content-type ${contentType ?? '(none)'} is not application/json`);
  }
  try {
    return { value: JSON.parse(response.body.toString('utf8')) as unknown };
  } catch {
    problems.push(`response ${response.status}: the body is not JSON`);
    return undefined;
  }
}

/** An Ajv error as `<instance path> <message>` (`/requestBody/ackId must be string`). */
type AjvError = { readonly instancePath: string; readonly message?: string; readonly keyword: string };

function describeError(error: AjvError): string {
  return `${error.instancePath || '/'} ${error.message ?? error.keyword}`;
}

function headersOf(headers: Exchange['headers']): Record<string, string | string[]> {
  const defined: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined) defined[name] = value;
  return defined;
}

function header(headers: Exchange['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function mediaTypeOf(contentType: string | undefined): string | undefined {
  return contentType?.split(';')[0]?.trim().toLowerCase() || undefined;
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The value at `keys` inside a parsed document, or undefined. */
function at(value: unknown, ...keys: (string | number)[]): unknown {
  let current = value;
  for (const key of keys) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string | number, unknown>)[key];
  }
  return current;
}
