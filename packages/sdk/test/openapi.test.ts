/** The SDK's types stay in step with the server's OpenAPI component schemas. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REQUIRED_SCHEMAS, RESPONSE_LOCATIONS, SDK_TYPE_KEYS } from "./helpers/type-keys.ts";
import { serverAvailable, startLive, type LiveServer } from "./helpers/live.ts";

interface SchemaObject {
  properties?: Record<string, SchemaObject>;
  items?: SchemaObject;
  allOf?: SchemaObject[];
  $ref?: string;
}

type Paths = Record<string, Record<string, { responses?: Record<string, { content?: Record<string, { schema?: SchemaObject }> }> }>>;

describe.skipIf(!serverAvailable)("OpenAPI ↔ SDK types", () => {
  let server: LiveServer;
  let schemas: Record<string, SchemaObject>;
  let paths: Paths;

  beforeAll(async () => {
    server = await startLive();
    const res = await fetch(`${server.url}/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; components?: { schemas?: Record<string, SchemaObject> }; paths?: Paths };
    expect(doc.openapi).toMatch(/^3\.1/);
    schemas = doc.components?.schemas ?? {};
    paths = doc.paths ?? {};
  });

  afterAll(async () => {
    await server?.close();
  });

  function propertyNames(schema: SchemaObject): string[] {
    const own = Object.keys(schema.properties ?? {});
    const inherited = (schema.allOf ?? []).flatMap((part) => {
      if (part.$ref !== undefined) {
        const target = schemas[part.$ref.split("/").pop()!];
        return target ? propertyNames(target) : [];
      }
      return propertyNames(part);
    });
    return [...new Set([...own, ...inherited])].sort();
  }

  function deref(schema: SchemaObject | undefined): SchemaObject | undefined {
    return schema?.$ref !== undefined ? schemas[schema.$ref.split("/").pop()!] : schema;
  }

  /** The schema at `[method, path, status, ...steps]` of RESPONSE_LOCATIONS, if the document has it. */
  function located(location: readonly string[]): SchemaObject | undefined {
    const [method, path, status, ...steps] = location;
    let schema = deref(paths[path!]?.[method!]?.responses?.[status!]?.content?.["application/json"]?.schema);
    for (const step of steps) {
      if (schema === undefined) return undefined;
      const parts = [schema, ...(schema.allOf ?? []).map(deref)];
      schema = deref(step === "[]" ? parts.find((p) => p?.items)?.items : parts.find((p) => p?.properties?.[step])?.properties?.[step]);
    }
    return schema;
  }

  it.each(REQUIRED_SCHEMAS)("the server publishes %s", (name) => {
    expect(Object.keys(schemas)).toContain(name);
  });

  it.each(Object.keys(SDK_TYPE_KEYS))("%s has the same property names in the SDK and the server", (name) => {
    const location = RESPONSE_LOCATIONS[name];
    const schema = schemas[name] ?? (location !== undefined ? located(location) : undefined);
    if (schema === undefined) {
      expect(REQUIRED_SCHEMAS as readonly string[]).not.toContain(name);
      console.warn(`!!! the server publishes no ${name} schema; not compared`);
      return;
    }
    expect([...SDK_TYPE_KEYS[name]!].sort()).toEqual(propertyNames(schema));
  });
});
