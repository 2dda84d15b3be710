/** The SDK's types stay in step with the server's OpenAPI component schemas. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REQUIRED_SCHEMAS, SDK_TYPE_KEYS } from "./helpers/type-keys.ts";
import { serverAvailable, startLive, type LiveServer } from "./helpers/live.ts";

interface SchemaObject {
  properties?: Record<string, unknown>;
  allOf?: SchemaObject[];
  $ref?: string;
}

describe.skipIf(!serverAvailable)("OpenAPI ↔ SDK types", () => {
  let server: LiveServer;
  let schemas: Record<string, SchemaObject>;

  beforeAll(async () => {
    server = await startLive();
    const res = await fetch(`${server.url}/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; components?: { schemas?: Record<string, SchemaObject> } };
    expect(doc.openapi).toMatch(/^3\.1/);
    schemas = doc.components?.schemas ?? {};
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

  it.each(REQUIRED_SCHEMAS)("the server publishes %s", (name) => {
    expect(Object.keys(schemas)).toContain(name);
  });

  it.each(Object.keys(SDK_TYPE_KEYS))("%s has the same property names in the SDK and the server", (name) => {
    const schema = schemas[name];
    if (schema === undefined) {
      expect(REQUIRED_SCHEMAS as readonly string[]).not.toContain(name);
      console.warn(`!!! the server publishes no ${name} schema; not compared`);
      return;
    }
    expect([...SDK_TYPE_KEYS[name]!].sort()).toEqual(propertyNames(schema));
  });
});
